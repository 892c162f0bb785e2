"""`python -m neural_style compare CONTENT STYLE -o FOLDER`: the PyTorch reference (Adam) against this
tool (L-BFGS, or Adam) on one and the same objective, on the same machine.

Writes into FOLDER: side_by_side.png (content | style | reference | ours), reference.png, ours.png,
losses.csv and losses.png (loss against seconds and against evaluations), summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

import numpy as np

from neural_style import images
from neural_style.api import stylize
from neural_style.commands.common import OneLineParser, StopOnSignal, refuse_json_events, run_command
from neural_style.commands.flags import add_common_flags
from neural_style.errors import NeuralStyleError
from neural_style.files import write_atomically, write_csv, write_json
from neural_style.images import save_image
from neural_style.plan.run_plan import plan_run
from neural_style.run.request import resolve_request
from neural_style.run.sources import load_sources
from neural_style.watch.record import Progress

PROG = "neural-style compare"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("content", help="content image")
    parser.add_argument("style", help="style image")
    parser.add_argument("-o", "--output", required=True, help="folder for the comparison's files (created)")
    parser.add_argument("--steps", type=int, default=500, help="Adam steps of the reference (default: 500)")
    parser.add_argument("--size", type=int, default=224, help="shorter side, as the reference's Resize (default: 224)")
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                        help="this tool's optimiser (adam: the reference's own, same learning rate and steps) "
                        "(default: lbfgs)")
    add_common_flags(parser)
    return parser


def plot_losses(path: str, reference: Dict[str, List[float]], ours: Dict[str, List[float]], ours_label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key, xlabel in ((axes[0], "seconds", "seconds"), (axes[1], "evaluations", "loss evaluations")):
        axis.plot(reference[key], reference["loss"], label="PyTorch reference (Adam)")
        # Markers, so a short L-BFGS run (a few points) is visible next to hundreds of Adam steps.
        axis.plot(ours[key], ours["loss"], marker="o", markersize=3, label=ours_label)
        axis.set_xlabel(xlabel)
        axis.set_ylabel("loss (the chapter's objective)")
        axis.set_yscale("log")
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=100, format="png"), suffix=".png")
    plt.close(figure)


def run_compare(content: str, style: str, folder: str, steps: int = 500, size: int = 224,
                optimizer: str = "lbfgs", stream: Optional[TextIO] = None, quiet: bool = False,
                should_stop: Optional[Callable[[], bool]] = None, print_every: Optional[int] = None,
                **options: Any) -> Optional[Dict[str, Any]]:
    """Run both programs on one objective and write the comparison into `folder`; returns the summary,
    or None when `should_stop()` ended a run (then nothing is written). Progress every `print_every` steps
    (default: a tenth of them); `options` are this tool's run's (`seed`, which seeds both programs, `device`,
    `memory_budget`, `backend`)."""
    if steps < 1 or size < 16:
        raise NeuralStyleError("--steps must be >= 1 and --size >= 16: pass such values")
    if print_every is not None and print_every < 1:
        raise NeuralStyleError("--print-every must be an integer >= 1: pass --print-every with such a value")
    say = Progress(1, stream=stream or sys.stderr, quiet=quiet).message
    # This tool's run planned as it will run, before either program resizes anything: an impossible --size is one
    # line here (the reference's own memory is of the same order).
    request = resolve_request(dict(options, preset="reference", size=size, optimizer=optimizer), content=content,
                              styles=[style])
    sources = load_sources(request.config)
    plan_run(request.config, request.hardware, sources.content.size, sources.style_sizes)
    # PyTorch's: the reference extra, imported once the inputs and the plan hold, so a bad input is named first.
    try:
        from neural_style import reference
    except ImportError as missing:
        raise NeuralStyleError(str(missing)) from None

    content_pixels, style_pixels = reference.load_pair(content, style, size)
    height, width = content_pixels.shape[:2]

    say(f"PyTorch reference: Adam lr={reference.LEARNING_RATE} for {steps} steps at {width}x{height}")
    interval = print_every or max(1, steps // 10)
    if options.get("seed") is not None:
        import torch

        torch.manual_seed(options["seed"])

    def report_reference(step: int, loss: float) -> None:
        if step % interval == 0:
            say(f"  reference step {step}/{steps} loss {loss:.6g}")

    stopped = should_stop or (lambda: False)
    ref_run = reference.run_reference(content_pixels, style_pixels, steps, on_step=report_reference,
                                      should_stop=stopped)
    ours = None if stopped() else _run_ours(content_pixels, style_pixels, ref_run.losses[-1], steps, size, optimizer,
                                            say, stream, quiet, interval, stopped, options)
    if ours is None or stopped():
        say("interrupted: a comparison needs both runs whole; nothing was written")
        return None
    ours_label = f"neural_style ({optimizer}, Keras)"
    os.makedirs(folder, exist_ok=True)
    _write_pictures(folder, content_pixels, style_pixels, ref_run.image, ours.image, steps, ours_label)
    reference_series = {"seconds": ref_run.seconds, "evaluations": list(range(1, steps + 1)), "loss": ref_run.losses}
    ours_series = {"seconds": [r.seconds for r in ours.history], "evaluations": [r.evaluations for r in ours.history],
                   "loss": [r.total for r in ours.history]}
    _write_losses_csv(os.path.join(folder, "losses.csv"), reference_series, ours.history)
    plot_losses(os.path.join(folder, "losses.png"), reference_series, ours_series, ours_label)
    summary = summarise(content, style, ref_run, ours, optimizer, steps)
    write_json(os.path.join(folder, "summary.json"), summary)
    say(format_summary(summary))
    return summary


def _run_ours(content_pixels: np.ndarray, style_pixels: np.ndarray, target: float, steps: int, size: int,
              optimizer: str, say: Callable[[str], None], stream: Optional[TextIO], quiet: bool, interval: int,
              should_stop: Optional[Callable[[], bool]], options: Dict[str, Any]) -> Any:
    """This tool on the same objective: L-BFGS until it reaches the reference's final loss (or as many
    iterations as the reference had steps); Adam for the same number of steps."""
    def stop_at_target(step: Any) -> None:
        if optimizer == "lbfgs" and step.total <= target:
            raise StopIteration

    say(f"this tool: {optimizer} on the same objective"
        + (f", until the loss reaches {target:.6g}" if optimizer == "lbfgs" else f" for {steps} steps"))
    return stylize(content_pixels, style_pixels, preset="reference", size=size, optimizer=optimizer,
                   iterations=steps, snapshot_every=0, on_step=stop_at_target, stream=stream, quiet=quiet,
                   print_every=interval, should_stop=should_stop, **options)


def _write_pictures(folder: str, content: np.ndarray, style: np.ndarray, reference_image: np.ndarray,
                    ours_image: np.ndarray, steps: int, ours_label: str) -> None:
    save_image(os.path.join(folder, "reference.png"), reference_image)
    save_image(os.path.join(folder, "ours.png"), ours_image)
    sheet = images.side_by_side([("content", content), ("style", style),
                          (f"PyTorch reference, Adam {steps} steps", reference_image), (ours_label, ours_image)])
    save_image(os.path.join(folder, "side_by_side.png"), np.asarray(sheet))


def _write_losses_csv(path: str, reference_series: Dict[str, List[float]], ours_history: Sequence[Any]) -> None:
    rows: List[List[Any]] = [
        ["reference", step, evaluations, f"{seconds:.4f}", repr(loss)]
        for step, (seconds, evaluations, loss) in enumerate(zip(*reference_series.values()), 1)
    ]
    rows += [["ours", r.iteration, r.evaluations, f"{r.seconds:.4f}", repr(r.total)] for r in ours_history]
    write_csv(path, ["program", "step", "evaluations", "seconds", "loss"], rows)


def summarise(content: str, style: str, ref_run: Any, ours: Any, optimizer: str, steps: int) -> Dict[str, Any]:
    """The comparison's numbers: both runs, the time to the reference's final loss, the pixel difference."""
    from neural_style import reference  # PyTorch's: the reference extra

    target = ref_run.losses[-1]
    reached = next((r for r in ours.history if r.total <= target), None)
    difference = ours.image.astype(np.float64) - ref_run.image.astype(np.float64)
    height, width = ref_run.image.shape[:2]
    return {
        "content": content, "style": style, "image_size": [width, height], "reference_steps": steps,
        "reference": {
            "optimizer": f"Adam lr={reference.LEARNING_RATE}", "final_loss": target,
            "seconds": ref_run.seconds[-1], "evaluations": steps,
            "seconds_per_evaluation": ref_run.seconds_per_step,
        },
        "ours": {
            "optimizer": optimizer, "final_loss": ours.history[-1].total if ours.history else None,
            "final_terms": dict(ours.history[-1].terms) if ours.history else None,  # the objective's, by name
            "iterations": ours.iterations, "evaluations": ours.evaluations,
            "seconds": ours.history[-1].seconds if ours.history else float("nan"),
            "seconds_per_evaluation": ours.seconds_per_evaluation,
        },
        "to_reference_final_loss": {
            "reached": reached is not None,
            "seconds": reached.seconds if reached else None,
            "evaluations": reached.evaluations if reached else None,
            "iterations": reached.iteration if reached else None,
            "speedup": (ref_run.seconds[-1] / reached.seconds) if reached and reached.seconds > 0 else None,
        },
        "pixel_difference": {
            "mean_absolute": float(np.abs(difference).mean()),
            "rms": float(np.sqrt((difference ** 2).mean())),
            "max": float(np.abs(difference).max()),
            "units": "0-255 per channel",
        },
    }


def format_summary(summary: Dict[str, Any]) -> str:
    ref, ours, reach = summary["reference"], summary["ours"], summary["to_reference_final_loss"]
    width, height = summary["image_size"]
    lines = [
        f"image {width}x{height}, reference {summary['reference_steps']} Adam steps",
        f"  reference: final loss {ref['final_loss']:.6g} in {ref['seconds']:.1f} s "
        f"({ref['seconds_per_evaluation']:.3f} s/evaluation)",
        f"  ours ({ours['optimizer']}): final loss {ours['final_loss']:.6g} in {ours['seconds']:.1f} s, "
        f"{ours['evaluations']} evaluations ({ours['seconds_per_evaluation']:.3f} s/evaluation)",
    ]
    if reach["reached"]:
        lines.append(f"  reached the reference's final loss after {reach['seconds']:.1f} s and {reach['evaluations']} "
                     f"evaluations: {reach['speedup']:.1f}x faster")
    else:
        lines.append("  did not reach the reference's final loss")
    diff = summary["pixel_difference"]
    lines.append(f"  pixel difference between the results: mean {diff['mean_absolute']:.1f}, rms {diff['rms']:.1f} (0-255)")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """`neural-style compare`; returns the exit status (2 without torch or for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    refuse_json_events(parser, args)

    def body(stop: StopOnSignal) -> int:
        summary = run_compare(args.content, args.style, args.output, args.steps, args.size, args.optimizer,
                              quiet=args.quiet, should_stop=stop, print_every=args.print_every, seed=args.seed,
                              device=args.device, memory_budget=args.memory_budget,
                              backend=args.backend or "auto")
        if summary is not None:
            print(json.dumps(summary, indent=2))
        return 0

    return run_command(PROG, body)
