"""The prepared device check (`neural-style doctor --check`), for the first machine with a GPU to run and paste into
docs/gpu.md. On every device the backend (any of the three) sees:

- a 512 px run of 50 iterations in a process of its own: the memory its plan expected against the peak measured
  (the backend's allocator's peak on a GPU; the process's peak resident memory on a CPU), and its seconds
  per evaluation, with each L-BFGS optimiser;
- seconds per evaluation at 512 px in float32, bfloat16 and float16, plain and compiled (XLA, torch.compile, jax.jit)
  (interleaved, min/median);
- one evaluation of a 4096 px picture in the tiles its plan picks, with its seconds and peak.

One table. Runs on a CPU as well (where it takes minutes: float16 has no native CPU kernels)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np
from keras import ops

from neural_style import backends

from neural_style.api import stylize
from neural_style.benchmarks.measure import interleaved_seconds, min_median
from neural_style.benchmarks.optimizers import OPTIMIZERS_COMPARED
from neural_style.config import StyleConfig
from neural_style.features.network_input import preprocess
from neural_style.features.vgg19 import build_feature_extractor, build_vgg19
from neural_style.backends.hardware import Hardware, resolve_hardware
from neural_style.objective.build import build_objective
from neural_style.plan.memory import available_for, memory_model, peak_resident_bytes, plan_memory
from neural_style.plan.sizes import plan_sizes
from neural_style.samples import sample
from neural_style.run.sources import prepare_images

RUN_SIZE = 512
RUN_ITERATIONS = 50
TILED_SIZE = 4096
PRECISIONS_CHECKED = ("float32", "bfloat16", "float16")
ROUNDS = 3


def device_peak(device: str) -> Optional[float]:
    """The device's peak memory so far: the backend's allocator's on a GPU, the process's resident memory on a CPU."""
    if not device.upper().startswith("/CPU"):
        return backends.active().memory_peak(device)
    return peak_resident_bytes()


def run_worker(device: str, optimizer: str, size: int = RUN_SIZE, iterations: int = RUN_ITERATIONS,
               backend: str = "auto") -> None:
    """In a process of its own: a run of `iterations` at `size` on `device` with `optimizer`; prints a JSON line with
    its planned and measured peak memory and its seconds per evaluation."""
    result = stylize(sample("chelsea.jpg"), sample("swirls.jpg"), size=size, iterations=iterations, device=device,
                     optimizer=optimizer, init="content", quiet=True, snapshot_every=0, log=False, tolerance=0.0,
                     backend=backend)
    planned = max(scale.memory.needed for scale in result.plan.scales)
    history = result.history
    later = (history[-1].seconds - history[0].seconds) / max(1, history[-1].evaluations - history[0].evaluations)
    print(json.dumps({"planned": planned, "peak": device_peak(result.device), "seconds_per_evaluation": later,
                      "iterations": result.iterations, "evaluations": result.evaluations,
                      "loss": history[-1].total, "precision": result.precision}), flush=True)


def _in_a_process(device: str, optimizer: str) -> Dict[str, Any]:
    # The backend started before this module is imported (it imports Keras).
    code = (f"from neural_style import backends; backends.activate({backends.chosen().name!r}); "
            "from neural_style.benchmarks.device_check import run_worker; "
            f"run_worker({device!r}, {optimizer!r}, {RUN_SIZE}, {RUN_ITERATIONS}, {backends.chosen().name!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def precision_seconds(device: str, content: np.ndarray, styles: List[np.ndarray], config: StyleConfig,
                      vgg: Any) -> Dict[str, str]:
    """Seconds per evaluation (min/median, interleaved) in each precision, plain and compiled."""
    cells = {}
    compilers = backends.active().COMPILERS
    modes = dict.fromkeys((compilers["graph"], compilers["xla"]))  # JAX's are one: jax.jit
    for precision in PRECISIONS_CHECKED:
        with backends.device_scope(device):
            image = ops.convert_to_tensor(preprocess(content))
            extractor = build_feature_extractor(config, vgg=vgg, precision=precision)
            variants = {}
            for mode in modes:
                objective = build_objective(config, extractor, content, styles, xla=mode == compilers["xla"])
                variants[mode] = lambda o=objective: ops.convert_to_numpy(o.loss_and_gradient(image)[2])
            try:
                times = interleaved_seconds(variants, ROUNDS)
                cells.update({f"{precision} {mode}": min_median(seconds) for mode, seconds in times.items()})
            except Exception as error:  # a precision or compiler this device cannot run: said in its cell
                cells[f"{precision}"] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:100]}"
    return cells


def tiled_evaluation(device: str, hardware: Hardware, config: StyleConfig, vgg: Any) -> str:
    """One evaluation of a TILED_SIZE px picture in the tiles its plan picks: seconds and the device's peak."""
    big = config.with_options(content=sample("chelsea.jpg"), styles=[sample("swirls.jpg")], size=TILED_SIZE)
    content, styles = prepare_images(big)
    sizes = plan_sizes((content.shape[1], content.shape[0]), [s.shape[1::-1] for s in styles], TILED_SIZE)
    limits = available_for(hardware)
    plan = plan_memory(TILED_SIZE, [sizes.content, *sizes.styles], config.lbfgs_history, "auto", config.tile_halo,
                       limits, memory_model(hardware))
    tile = plan.tile or 1024
    with backends.device_scope(device):
        extractor = build_feature_extractor(big, vgg=vgg, precision=hardware.precision)
        objective = build_objective(big, extractor, content, styles, tile=tile)
        started = time.perf_counter()
        ops.convert_to_numpy(objective.loss_and_gradient(ops.convert_to_tensor(preprocess(content)))[2])
        seconds = time.perf_counter() - started
    peak = device_peak(device)
    return (f"{sizes.content[0]}x{sizes.content[1]} in {tile} px tiles ({hardware.precision}): {seconds:.1f} s, "
            f"planned {plan.needed / 1e9:.1f} GB" + (f", peak {peak / 1e9:.1f} GB" if peak else ""))


def run(config: StyleConfig, stop: Callable[[], bool], quiet: bool = False) -> int:
    """The check on every device the backend sees, printed as one table."""
    backends.active().quieten()  # every variant is traced anew here, on purpose: no retracing warnings
    devices = backends.active().devices()
    print(f"\ndevice check ({backends.chosen().describe()}; {backends.active().version()}): {RUN_SIZE} px runs of {RUN_ITERATIONS} iterations, evaluations interleaved over {ROUNDS} "
          f"rounds (min/median), a {TILED_SIZE} px tiled evaluation", flush=True)
    for device in devices:
        if stop():
            return 0
        with backends.device_scope(device):
            vgg = build_vgg19("gatys")
        hardware = resolve_hardware(config.with_options(device=device))
        print(f"\n| {device} | {hardware.arithmetic()} |\n| --- | --- |", flush=True)
        for optimizer in OPTIMIZERS_COMPARED:
            run = _in_a_process(device, optimizer)
            if "error" in run:
                print(f"| {RUN_SIZE} px run, {optimizer} | failed: {run['error']} |", flush=True)
                continue
            peak = f"{run['peak'] / 1e9:.2f} GB" if run.get("peak") else "not measured"
            print(f"| {RUN_SIZE} px run, {optimizer} ({run['precision']}) | planned {run['planned'] / 1e9:.2f} GB, "
                  f"peak {peak}; {run['seconds_per_evaluation']:.3f} s/evaluation, {run['evaluations']} evaluations "
                  f"for {run['iterations']} iterations, loss {run['loss']:.4g} |", flush=True)
        check = config.with_options(content=sample("chelsea.jpg"), styles=[sample("swirls.jpg")], size=RUN_SIZE)
        content, styles = prepare_images(check)
        for name, cell in precision_seconds(device, content, styles, check, vgg).items():
            print(f"| s/evaluation, {name} | {cell} |", flush=True)
        if stop():
            return 0
        print(f"| tiled | {tiled_evaluation(device, hardware, config, vgg)} |", flush=True)
    return 0


__all__ = ["run", "run_worker"]
