"""`neural-style benchmark`: seconds per loss-and-gradient evaluation at several sizes, for the
objective as the tool runs it (TensorFlow graph) and with XLA, plus the process's peak memory.

    python -m neural_style benchmark [--sizes 256 512] [--repeats 5] [--device /CPU:0]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from typing import Any, Optional, Sequence

import numpy as np

from .runtime import OneLineParser, StopOnSignal, run_command

PROG = "neural-style benchmark"
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(os.path.dirname(HERE), "images")


def warm_seconds_per_evaluation(objective: Any, image: Any, repeats: int) -> float:
    """Seconds per evaluation once traced and compiled: the first call is left out of the timing."""
    objective.loss_and_gradient(image)[2].numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        objective.loss_and_gradient(image)[2].numpy()
    return (time.perf_counter() - start) / repeats


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="longest sides (default: 256 512)")
    parser.add_argument("--repeats", type=int, default=5, help="timed evaluations per variant (default: 5)")
    parser.add_argument("--device", default=None, help="TensorFlow device (default: the first GPU, else the CPU)")
    parser.add_argument("--deterministic", action="store_true",
                        help="turn on TensorFlow's op determinism (what --seed does), to measure its cost")
    parser.add_argument("--content", default=os.path.join(SAMPLES, "chelsea.jpg"), help="content image")
    parser.add_argument("--style", default=os.path.join(SAMPLES, "swirls.jpg"), help="style image")
    return parser


def run_benchmark(args: argparse.Namespace, stop: StopOnSignal) -> int:
    """Print the table; the network is built once and the objective per size and variant."""
    import tensorflow as tf

    from .api import prepare_images
    from .config import StyleConfig
    from .losses import build_objective
    from .model import build_feature_extractor
    from .network_input import preprocess
    from .runtime import op_determinism, resolve_device

    device = resolve_device(args.device)
    print(f"device {device}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}"
          + (", op determinism on" if args.deterministic else ""))
    print(f"{'size':>9} {'pixels':>8} {'graph s/eval':>13} {'XLA s/eval':>11}", flush=True)
    with tf.device(device), op_determinism(args.deterministic):
        extractor = build_feature_extractor(StyleConfig())
        for size in args.sizes:
            if stop():
                break
            config = StyleConfig(content=args.content, styles=[args.style], size=size)
            content, styles = prepare_images(config)
            noise = np.random.default_rng(0).uniform(-50, 50, (1,) + content.shape).astype(np.float32)
            image = tf.constant(preprocess(content) + noise)
            # TensorFlow has no deterministic XLA max-pool gradient: under determinism, graph only.
            timings = [warm_seconds_per_evaluation(build_objective(config.with_options(xla=xla), extractor, content,
                                                                   styles), image, args.repeats)
                       for xla in ((False,) if args.deterministic else (False, True))]
            xla_text = f"{timings[1]:>11.3f}" if len(timings) > 1 else f"{'n/a':>11}"
            print(f"{content.shape[1]:>4}x{content.shape[0]:<4} {content.shape[0] * content.shape[1]:>8} "
                  f"{timings[0]:>13.3f} {xla_text}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`neural-style benchmark`; returns the exit status."""
    args = build_parser().parse_args(argv)
    return run_command(PROG, lambda stop: run_benchmark(args, stop))


if __name__ == "__main__":
    raise SystemExit(main())
