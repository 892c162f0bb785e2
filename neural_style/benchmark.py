"""Seconds per loss-and-gradient evaluation at several sizes, for the compiled function as the tool
runs it (TensorFlow graph) and with XLA, plus the process's peak memory.

    python -m neural_style.benchmark [--sizes 256 512] [--repeats 5] [--device /CPU:0]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from .cli import start_tensorflow

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(os.path.dirname(HERE), "images")


def seconds_per_evaluation(objective, image, repeats: int) -> float:
    objective.loss_and_gradient(image)[2].numpy()  # trace and warm up
    start = time.perf_counter()
    for _ in range(repeats):
        objective.loss_and_gradient(image)[2].numpy()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None)
    parser.add_argument("--deterministic", action="store_true",
                        help="turn on TensorFlow's op determinism (what --seed does), to measure its cost")
    parser.add_argument("--content", default=os.path.join(SAMPLES, "chelsea.jpg"))
    parser.add_argument("--style", default=os.path.join(SAMPLES, "swirls.jpg"))
    args = parser.parse_args()
    start_tensorflow()
    import tensorflow as tf

    from .api import build_objective, prepare_images, resolve_device
    from .config import StyleConfig
    from .model import preprocess

    device = resolve_device(args.device)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    print(f"device {device}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}"
          + (", op determinism on" if args.deterministic else ""))
    print(f"{'size':>6} {'pixels':>10} {'graph s/eval':>13} {'XLA s/eval':>11}")
    with tf.device(device):
        for size in args.sizes:
            config = StyleConfig(content=args.content, styles=[args.style], size=size)
            content, styles = prepare_images(config)
            noise = np.random.default_rng(0).uniform(-50, 50, (1,) + content.shape).astype(np.float32)
            image = tf.constant(preprocess(content) + noise)
            timings = []
            # TensorFlow has no deterministic XLA max-pool gradient: under determinism, graph only.
            for xla in ((False,) if args.deterministic else (False, True)):
                objective = build_objective(config.with_options(xla=xla), content, styles, log=lambda _: None)
                timings.append(seconds_per_evaluation(objective, image, args.repeats))
            graph, xla = (timings + ["n/a"])[:2]
            xla_text = f"{xla:>11.3f}" if isinstance(xla, float) else f"{xla:>11}"
            print(f"{content.shape[1]}x{content.shape[0]:<4} {content.shape[0] * content.shape[1]:>8} "
                  f"{graph:>13.3f} {xla_text}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
