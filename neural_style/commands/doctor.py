"""`neural-style doctor [--check]`: what this machine offers a run, on one screen to paste into an issue
(neural_style/commands/doctor_report.py); with --check, the prepared device check (neural_style/benchmarks/device_check.py)."""

from __future__ import annotations

import argparse
import importlib
from typing import Optional, Sequence

from neural_style.commands.common import OneLineParser, StopOnSignal, refuse_json_events, run_command
from neural_style.commands.flags import add_common_flags, config_from_args

PROG = "neural-style doctor"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG, argument_default=argparse.SUPPRESS,
        description="What this machine offers a run: TensorFlow and its CUDA, the devices it sees and the NVIDIA GPUs "
        "the system has (and why one goes unused), the precision and XLA auto picks on each, the memory planned and "
        "the largest --size, the weights cache, the extras installed. One screen, to paste into an issue.")
    parser.add_argument("--check", action="store_true",
                        help="also run the prepared device check on every device TensorFlow sees: a 512 px run of 50 "
                        "iterations (planned against measured peak memory), seconds per evaluation in each precision "
                        "with the graph and with XLA, both L-BFGS optimisers, and a tiled 4096 px evaluation; one "
                        "table (minutes on a CPU, under 5 on one GPU)")
    add_common_flags(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`neural-style doctor`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    refuse_json_events(parser, args)
    check = vars(args).pop("check", False)

    def body(stop: StopOnSignal) -> int:
        # TensorFlow's: imported once it has started quietly.
        doctor = importlib.import_module("neural_style.commands.doctor_report")
        config, watch = config_from_args(args)
        for line in doctor.report(config):
            print(line, flush=True)
        if check:
            device_check = importlib.import_module("neural_style.benchmarks.device_check")
            return device_check.run(config, stop, quiet=watch.quiet)
        return 0

    return run_command(PROG, body, backend_first=getattr(args, "backend", None) or "auto")
