"""Per precision and size: seconds per loss-and-gradient evaluation with the plain graph and with XLA (interleaved,
min and median), the evaluation's GFLOP (VGG19's convolutions forward and backward, and the Gram matrices, from the
layer shapes), GFLOP/s and the share of this machine's convolution peak (a VGG-sized convolution of the same precision,
measured in the same run: run/profile.py; a large matmul's peak is printed beside it), the time from process start to the first iteration of a real `neural-style` run, and that run's peak
memory."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Sequence, Tuple

import keras
import numpy as np
from keras import ops

from neural_style import backends

from neural_style.run.profile import measured_convolution_peak
from neural_style.benchmarks.measure import (RUN_REPORTING_PEAK, check_fits, interleaved_seconds, min_median,
                                             noisy_network_image, or_na, reported_peak)
from neural_style.config import StyleConfig
from neural_style.features.vgg19 import build_feature_extractor, build_vgg19
from neural_style.backends.hardware import op_determinism, resolve_device
from neural_style.objective.build import build_objective
from neural_style.run.sources import prepare_images


def evaluation_gflop(extractor_model: Any, style_layers: Sequence[str], height: int, width: int) -> float:
    """GFLOP of one loss-and-gradient evaluation at height x width: each convolution forward and its
    input gradient backward (2 * h * w * 9 * in * out each way), and each style layer's Gram matrix
    forward and backward (2 * h * w * c^2 each way). Weight gradients are never computed."""
    flop = 0.0
    h, w = height, width
    for layer in extractor_model.layers:
        if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            h, w = h // 2, w // 2
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, inputs, outputs = layer.kernel.shape
            flop += 2 * (2.0 * h * w * kh * kw * inputs * outputs)
            if layer.name in style_layers:
                flop += 2 * (2.0 * h * w * outputs * outputs)
    return flop / 1e9


def peak_gflops(precision: str, size: int = 2048, repeats: int = 5) -> float:
    """This machine's matmul throughput in `precision`: the best of `repeats` size x size products."""
    dtype = "bfloat16" if precision == "bfloat16" else "float32"
    rng = np.random.default_rng(0)
    a, b = (ops.cast(rng.normal(size=(size, size)).astype(np.float32), dtype) for _ in range(2))
    product = backends.forward_function(lambda x, y: ops.sum(ops.cast(ops.matmul(x, y), "float32")), "graph")
    ops.convert_to_numpy(product(a, b))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        ops.convert_to_numpy(product(a, b))
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def start_to_first_iteration(content: str, style: str, size: int, precision: str, iterations: int = 3,
                             backend: str = "auto") -> Tuple[float, float]:
    """(seconds from starting `python -m neural_style` to its first iteration's line, its peak resident
    memory in MiB) for a run of `iterations` iterations."""
    with tempfile.TemporaryDirectory() as folder:
        argv = [sys.executable, "-c", RUN_REPORTING_PEAK, content, style, "-o", os.path.join(folder, "out.png"), "--size",
                str(size), "--precision", precision, "--iterations", str(iterations), "--snapshot-every", "0",
                "--no-log", "--print-every", "1000", "--backend", backend]
        started = time.perf_counter()
        process = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
        first = float("nan")
        lines = []
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if line.startswith("iteration 1/") and first != first:
                first = time.perf_counter() - started
        process.wait()
    peak = reported_peak(lines) / 2**20
    if process.returncode != 0:
        raise RuntimeError(f"the timed run failed: {''.join(lines)[-500:]}")
    return first, peak


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """The speed table (see the module's docstring)."""
    sizes, rounds = args.sizes or [256, 512], args.rounds or 5
    check_fits([(args.content, args.style)], sizes, tile_size=0, device=args.device)  # measured whole
    device = resolve_device(args.device)
    backend = backends.chosen().name
    compilers = backends.active().COMPILERS
    plain, compiled = compilers["graph"], compilers["xla"]
    print(f"device {device}, {os.cpu_count()} CPUs, {backends.active().version()}"
          + (", op determinism on" if args.deterministic else ""))
    print("seconds per evaluation as min/median of interleaved rounds; GFLOP/s and % of the convolution peak from the "
          "faster mode's min")
    print(f"{'precision':>9} {'size':>9} {plain + ' s/eval':>15} {compiled + ' s/eval':>21} {'GFLOP':>6} "
          f"{'GFLOP/s':>8} {'% conv':>6} {'start->1st it':>13} {'peak MiB':>8}", flush=True)
    with backends.device_scope(device), op_determinism(args.deterministic):
        vgg = build_vgg19("gatys")
        for precision in args.precisions:
            peak = measured_convolution_peak(precision)
            matmul_peak = peak_gflops(precision)
            base = StyleConfig(precision=precision)
            extractor = build_feature_extractor(base, vgg=vgg)
            for size in sizes:
                if stop():
                    return 0
                config = base.with_options(content=args.content, styles=[args.style], size=size)
                content, styles = prepare_images(config)
                image = noisy_network_image(content, args.seed)
                # TensorFlow has no deterministic XLA max-pool gradient: under determinism, plain only. JAX's plain
                # and compiled are one (jax.jit): measured once.
                modes = {plain: False} if args.deterministic or plain == compiled else {plain: False, compiled: True}
                objectives = {name: build_objective(config, extractor, content, styles, xla=xla)
                              for name, xla in modes.items()}
                times = interleaved_seconds({name: (lambda o=o: ops.convert_to_numpy(o.loss_and_gradient(image)[2]))
                                             for name, o in objectives.items()}, rounds)
                gflop = evaluation_gflop(extractor.model, config.style_layers, *content.shape[:2])
                best = min(min(t) for t in times.values())
                start, memory = (start_to_first_iteration(args.content, args.style, size, precision, backend=backend)
                                 if args.start else (float("nan"), float("nan")))
                print(f"{precision:>9} {content.shape[1]:>4}x{content.shape[0]:<4} {min_median(times[plain]):>15} "
                      f"{min_median(times[compiled]) if compiled in times and plain != compiled else 'n/a':>21} "
                      f"{gflop:>6.1f} "
                      f"{gflop / best:>8.1f} {100 * gflop / best / peak:>5.0f}% {or_na(start, '.1f', 's'):>13} "
                      f"{or_na(memory, '.0f'):>8}", flush=True)
            print(f"{'':>9} {precision} convolution peak: {peak:.0f} GFLOP/s (3x3, 256 -> 256 channels at 128x96); "
                  f"matmul peak: {matmul_peak:.0f} GFLOP/s", flush=True)
    return 0


__all__ = ["evaluation_gflop", "peak_gflops", "run", "start_to_first_iteration"]
