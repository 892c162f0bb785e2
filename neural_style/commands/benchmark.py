"""`neural-style benchmark`: speed and memory, measured the same way every time.

    python -m neural_style benchmark [--sizes 256 512] [--precisions float32 bfloat16] [--rounds 5]
    python -m neural_style benchmark --time-to-quality CONTENT STYLE [--size 512] [-o FOLDER]
    python -m neural_style benchmark --tiled [--sizes 1024 2048 4096] [--tile-size 1024] [--rounds 2]
    python -m neural_style benchmark --batch [--rounds 2]
    python -m neural_style benchmark --style-losses [--pairs CONTENT:STYLE ...] [--size 256] [--iterations 100] [-o FOLDER]
    python -m neural_style benchmark --starts [--pairs CONTENT:STYLE ...] [--size 256] [--iterations 100] [-o FOLDER]

The first form prints, per precision and size: seconds per loss-and-gradient evaluation with the plain
graph and with XLA (measured interleaved, A B A B ..., min and median), the evaluation's GFLOP (VGG19's
convolutions forward and backward, and the Gram matrices, from the layer shapes), GFLOP/s and the share
of this machine's peak (a large matmul of the same precision, measured in the same run), the time from
process start to the first iteration of a real `neural-style` run, and that run's peak memory.

The second runs today's baseline (one size, float32, 500 L-BFGS iterations, every one of them, from the photo),
the default (from the AdaIN picture), and the default from the photo (`--init content`) on the same images in
one process, and reports each one's wall time (model loading included), the loss of each final picture
evaluated in float32 at the final size, and when the default and the photo start reached the baseline's final
loss.

The third measures high resolution: per output size, seconds per evaluation and the peak resident
memory of the whole image evaluated at once (where it fits in this machine's memory) and in tiles
(objective/tiled.py), each in a process of its own, the two alternating, and the share of the tiled
evaluation's pixels that are halo, read twice.

The fourth runs one batch (2 contents x 4 styles at 128 px, 50 iterations) each way it can run: in one
process, in 2 local worker processes, on Ray started locally, and on a two-node Ray cluster on this
machine; each a process of its own, alternating, and reports wall time (process start to the summary),
jobs per hour, and Ray's overhead per job against the local pool of 2 workers.

`--style-losses` runs each style loss on each pair and scores every result by every loss; `--starts` runs the
default optimisation from the content and from the AdaIN picture (`--init adain`) on each pair at equal budget
(--iterations), scores both final pictures by the default objective in float32 at the final size, and times the
AdaIN picture alone at --size (min/median of --rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from neural_style.commands.common import OneLineParser, StopOnSignal, run_command
from neural_style.commands.flags import add_common_flags

PROG = "neural-style benchmark"
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "images")  # the repository's sample images
BASELINE = dict(precision="float32", scales=1, tolerance=0.0, xla=False, iterations=500, init="content")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+",
                        help="longest sides (default: 256 512, and 1024 2048 4096 with --tiled)")
    parser.add_argument("--precisions", nargs="+", choices=("float32", "bfloat16"), default=["float32", "bfloat16"],
                        help="(default: float32 bfloat16)")
    parser.add_argument("--rounds", type=int,
                        help="interleaved timing rounds per variant (default: 5, and 2 with --tiled)")
    parser.add_argument("--no-start", dest="start", action="store_false",
                        help="skip the start-to-first-iteration and memory runs (a process each)")
    parser.add_argument("--deterministic", action="store_true",
                        help="turn on TensorFlow's op determinism (what --seed does), to measure its cost")
    parser.add_argument("--content", default=os.path.join(SAMPLES, "chelsea.jpg"), help="content image")
    parser.add_argument("--style", default=os.path.join(SAMPLES, "swirls.jpg"), help="style image")
    parser.add_argument("--time-to-quality", nargs=2, metavar=("CONTENT", "STYLE"),
                        help="the baseline against the default run on these images")
    parser.add_argument("--size", type=int, default=512, help="--time-to-quality's output size (default: 512)")
    parser.add_argument("-o", "--output", help="--time-to-quality: folder for both pictures and the summary")
    parser.add_argument("--tiled", action="store_true",
                        help="whole-image against tiled evaluation at --sizes (default here: 1024 2048 4096)")
    parser.add_argument("--tile-size", type=int, default=1024,
                        help="--tiled's tile size (default: 1024, what --tile-size auto picks for 4096 px on a "
                        "machine with 24 GB)")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="bfloat16",
                        help="--tiled's precision (default: bfloat16)")
    parser.add_argument("--video", nargs=2, metavar=("CLIP", "STYLE"),
                        help="flicker and seconds per frame of independent frames against the temporal mode")
    parser.add_argument("--frames", type=int, default=24, help="--video: frames to stylise (default: 24)")
    parser.add_argument("--iterations", type=int, default=100,
                        help="--video: iterations of a frame from scratch (default: 100)")
    parser.add_argument("--batch", action="store_true",
                        help="the batch command's ways of running (one process, 2 workers, Ray, two-node Ray)")
    parser.add_argument("--style-losses", action="store_true",
                        help="each style loss on each pair (--pairs, else the samples and ../shared/images): the "
                        "results scored by every style loss, and each loss's seconds per evaluation")
    parser.add_argument("--starts", action="store_true",
                        help="the content start against the AdaIN start at equal budget on each pair, scored in "
                        "float32 at the final size, and AdaIN's seconds per picture")
    parser.add_argument("--studio", action="store_true",
                        help="the studio's overhead: a plain run against the studio's Paint (its stream consumed as "
                        "the page does) with the same settings and network, interleaved, seconds per evaluation "
                        "(--size, default 512; --iterations; --rounds; --content, --style)")
    parser.add_argument("--pairs", nargs="+", metavar="CONTENT:STYLE",
                        help="--style-losses, --starts: the image pairs")
    parser.add_argument("--temporal-weights", type=float, nargs="+", default=[0.05],
                        help="--video: temporal weights to measure (default: 0.05)")
    add_common_flags(parser)  # --quiet: the results alone; --seed: the measured images' noise
    return parser


# --- what an evaluation costs -------------------------------------------------------------------

def evaluation_gflop(extractor_model: Any, style_layers: Sequence[str], height: int, width: int) -> float:
    """GFLOP of one loss-and-gradient evaluation at height x width: each convolution forward and its
    input gradient backward (2 * h * w * 9 * in * out each way), and each style layer's Gram matrix
    forward and backward (2 * h * w * c^2 each way). Weight gradients are never computed."""
    import keras

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
    import tensorflow as tf

    dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
    rng = np.random.default_rng(0)
    a, b = (tf.constant(rng.normal(size=(size, size)).astype(np.float32), dtype=dtype) for _ in range(2))
    product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y), tf.float32)))
    product(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def interleaved_seconds(variants: Dict[str, Callable[[], Any]], rounds: int) -> Dict[str, List[float]]:
    """Time each variant once per round, in turn (A B A B ...), after one untimed warm-up call each."""
    for call in variants.values():
        call()
    times: Dict[str, List[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, call in variants.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


def min_median(times: List[float]) -> str:
    return f"{min(times):.3f}/{statistics.median(times):.3f}"


# --- a real run, from process start ----------------------------------------------------------

def start_to_first_iteration(content: str, style: str, size: int, precision: str, iterations: int = 3
                             ) -> Tuple[float, float]:
    """(seconds from starting `python -m neural_style` to its first iteration's line, its peak resident
    memory in MiB) for a run of `iterations` iterations."""
    import tempfile

    report = ("import resource, runpy, sys\n"
              "try:\n    runpy.run_module('neural_style', run_name='__main__')\n"
              "finally:\n    print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    with tempfile.TemporaryDirectory() as folder:
        argv = [sys.executable, "-c", report, content, style, "-o", os.path.join(folder, "out.png"), "--size",
                str(size), "--precision", precision, "--iterations", str(iterations), "--snapshot-every", "0",
                "--no-log", "--print-every", "1000"]
        started = time.perf_counter()
        process = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
        first = float("nan")
        lines = []
        for line in process.stderr:
            lines.append(line)
            if line.startswith("iteration 1/") and first != first:
                first = time.perf_counter() - started
        process.wait()
    peak = next((int(line.split()[1]) / 1024 for line in lines if line.startswith("peak_kib")), float("nan"))
    if process.returncode != 0:
        raise RuntimeError(f"the timed run failed: {''.join(lines)[-500:]}")
    return first, peak


# --- the table -----------------------------------------------------------------------------------

def run_speed_table(args: argparse.Namespace, stop: StopOnSignal) -> int:
    import tensorflow as tf

    from neural_style.api import prepare_images
    from neural_style.config import StyleConfig
    from neural_style.objective.build import build_objective
    from neural_style.features.vgg19 import build_feature_extractor, build_vgg19
    from neural_style.features.network_input import preprocess
    from neural_style.hardware import op_determinism, resolve_device

    args.sizes, args.rounds = args.sizes or [256, 512], args.rounds or 5
    device = resolve_device(args.device)
    print(f"device {device}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}"
          + (", op determinism on" if args.deterministic else ""))
    print("seconds per evaluation as min/median of interleaved rounds; GFLOP/s and % of peak from the faster mode's min")
    print(f"{'precision':>9} {'size':>9} {'graph s/eval':>13} {'XLA s/eval':>13} {'GFLOP':>6} {'GFLOP/s':>8} "
          f"{'% peak':>6} {'start->1st it':>13} {'peak MiB':>8}", flush=True)
    with tf.device(device), op_determinism(args.deterministic):
        vgg = build_vgg19("gatys")
        for precision in args.precisions:
            peak = peak_gflops(precision)
            base = StyleConfig(precision=precision)
            extractor = build_feature_extractor(base, vgg=vgg)
            for size in args.sizes:
                if stop():
                    return 0
                config = base.with_options(content=args.content, styles=[args.style], size=size)
                content, styles = prepare_images(config)
                noise = np.random.default_rng(args.seed or 0).uniform(-50, 50, (1,) + content.shape).astype(np.float32)
                image = tf.constant(preprocess(content) + noise)
                # TensorFlow has no deterministic XLA max-pool gradient: under determinism, graph only.
                modes = {"graph": False} if args.deterministic else {"graph": False, "XLA": True}
                objectives = {name: build_objective(config, extractor, content, styles, xla=xla)
                              for name, xla in modes.items()}
                times = interleaved_seconds({name: (lambda o=o: o.loss_and_gradient(image)[2].numpy())
                                             for name, o in objectives.items()}, args.rounds)
                gflop = evaluation_gflop(extractor.model, config.style_layers, *content.shape[:2])
                best = min(min(t) for t in times.values())
                start, memory = (start_to_first_iteration(args.content, args.style, size, precision) if args.start
                                 else (float("nan"), float("nan")))
                print(f"{precision:>9} {content.shape[1]:>4}x{content.shape[0]:<4} {min_median(times['graph']):>13} "
                      f"{min_median(times['XLA']) if 'XLA' in times else 'n/a':>13} {gflop:>6.1f} "
                      f"{gflop / best:>8.1f} {100 * gflop / best / peak:>5.0f}% {_or_na(start, '.1f', 's'):>13} {_or_na(memory, '.0f'):>8}",
                      flush=True)
            print(f"{'':>9} {precision} matmul peak: {peak:.0f} GFLOP/s", flush=True)
    return 0


def _or_na(value: float, spec: str, unit: str = "") -> str:
    """A figure as the table shows it; 'n/a' for one not measured (--no-start)."""
    return "n/a" if value != value else f"{value:{spec}}{unit}"


# --- style losses --------------------------------------------------------------------------------

def default_style_pairs() -> List[Tuple[str, str]]:
    """The sample pairs, and the shared evaluation images' where they are beside the checkout."""
    pairs = [(os.path.join(SAMPLES, "chelsea.jpg"), os.path.join(SAMPLES, "swirls.jpg")),
             (os.path.join(SAMPLES, "coffee.jpg"), os.path.join(SAMPLES, "swirls.jpg"))]
    shared = os.path.join(os.path.dirname(os.path.dirname(SAMPLES)), "shared", "images")
    for content, style in (("tubingen.jpg", "starry_night.jpg"), ("golden_gate.jpg", "the_scream.jpg"),
                           ("tubingen.jpg", "woman-with-hat-matisse.jpg")):
        if os.path.exists(os.path.join(shared, content)) and os.path.exists(os.path.join(shared, style)):
            pairs.append((os.path.join(shared, content), os.path.join(shared, style)))
    return pairs


def run_style_losses(args: argparse.Namespace, stop: StopOnSignal) -> int:
    """Each style loss on each pair at --size for --iterations (seeded); every result scored by every style loss
    (its style term alone, unweighted, float32, at that size), and each loss's seconds per evaluation there."""
    import tensorflow as tf

    from neural_style.api import prepare_images, stylize
    from neural_style.config import STYLE_LOSSES, StyleConfig
    from neural_style.features.network_input import preprocess
    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.objective.build import build_objective

    pairs = [tuple(pair.split(":", 1)) for pair in args.pairs] if args.pairs else default_style_pairs()
    size = args.size
    seed = 1 if args.seed is None else args.seed
    print(f"{len(pairs)} pairs at {size} px, {args.iterations} iterations, seed {seed}; scores: each style loss's "
          "term alone (weight 1), float32", flush=True)
    print(f"{'content / style':<36} {'run with':<12} " + " ".join(f"{'scored ' + loss:>20}" for loss in STYLE_LOSSES)
          + f" {'content loss':>13}", flush=True)
    scorer = StyleConfig(size=size, precision="float32", content_weight=0.0, tv_weight=0.0, style_weight=1.0)
    extractor = build_feature_extractor(scorer)
    sheet_rows = []
    for content, style in pairs:
        if stop():
            return 0
        pictures = {}
        for loss in STYLE_LOSSES:
            result = stylize(content, style, size=size, iterations=args.iterations, style_loss=loss, seed=seed,
                             snapshot_every=0, quiet=True, should_stop=stop, device=args.device)
            pictures[loss] = result.image
        config = scorer.with_options(content=content, styles=[style])
        content_pixels, style_pixels = prepare_images(config)
        objectives = {loss: build_objective(config.with_options(style_loss=loss), extractor, content_pixels,
                                            style_pixels) for loss in STYLE_LOSSES}
        content_scorer = build_objective(config.with_options(content_weight=1.0, style_weight=0.0), extractor,
                                         content_pixels, style_pixels)
        name = f"{os.path.basename(content)} / {os.path.basename(style)}"
        for loss, picture in pictures.items():
            image = tf.constant(preprocess(picture))
            scores = [float(objectives[scored].term_values(image)["style"]) for scored in STYLE_LOSSES]
            content_score = float(content_scorer.term_values(image)["content"])
            print(f"{name:<36} {loss:<12} " + " ".join(f"{score:>20.5g}" for score in scores)
                  + f" {content_score:>13.4g}", flush=True)
        sheet_rows.append([("content", content_pixels), ("style", style_pixels[0])]
                          + [(loss, pictures[loss]) for loss in STYLE_LOSSES])
    image = tf.constant(preprocess(content_pixels))
    times = interleaved_seconds({loss: (lambda o=o: o.loss_and_gradient(image)[2].numpy())
                                 for loss, o in objectives.items()}, args.rounds or 5)
    print("seconds per evaluation (float32, min/median, interleaved) at "
          f"{content_pixels.shape[1]}x{content_pixels.shape[0]}: "
          + ", ".join(f"{loss} {min_median(seconds)}" for loss, seconds in times.items()), flush=True)
    if args.output:
        save_sheets(args.output, "style_losses", sheet_rows)
    return 0


def save_sheets(folder: str, prefix: str, rows: List[List[Tuple[str, np.ndarray]]]) -> None:
    """Each row of labelled pictures side by side, as FOLDER/PREFIX_1.png, _2.png, ..."""
    from neural_style import images

    os.makedirs(folder, exist_ok=True)
    for index, row in enumerate(rows):
        images.save_image(os.path.join(folder, f"{prefix}_{index + 1}.png"), images.to_array(images.side_by_side(row)))


def run_starts(args: argparse.Namespace, stop: StopOnSignal) -> int:
    """The default run from the content and from the AdaIN picture, alternating, on each pair; see the docstring."""
    import tensorflow as tf

    from neural_style import images
    from neural_style.api import load_sources, stylize
    from neural_style.config import StyleConfig
    from neural_style.features.network_input import preprocess
    from neural_style.hardware import resolve_device
    from neural_style.pipeline import build_adain, feed_forward_picture

    pairs = [tuple(pair.split(":", 1)) for pair in args.pairs] if args.pairs else default_style_pairs()
    size = args.size
    seed = 1 if args.seed is None else args.seed
    print(f"{len(pairs)} pairs at {size} px, {args.iterations} iterations, seed {seed}; float32 loss of the default "
          "objective at the final size", flush=True)
    print(f"{'content / style':<36} {'start':<8} {'loss':>9} {'evaluations':>12} {'seconds':>8}", flush=True)
    painter = build_adain()
    sheet_rows, wins = [], 0
    for content, style in pairs:
        if stop():
            return 0
        loss_of, content_pixels = float32_loss_function(content, style, size)
        name = f"{os.path.basename(content)} / {os.path.basename(style)}"
        finals = {}
        for start in ("content", "adain"):
            started = time.perf_counter()
            result = stylize(content, style, size=size, iterations=args.iterations, init=start, seed=seed,
                             snapshot_every=0, quiet=True, should_stop=stop, device=args.device)
            seconds = time.perf_counter() - started
            finals[start] = (loss_of(preprocess(result.image)), result.image)
            print(f"{name:<36} {start:<8} {finals[start][0]:>9.4f} {result.evaluations:>12} {seconds:>8.1f}",
                  flush=True)
        wins += finals["adain"][0] < finals["content"][0]
        config = StyleConfig(content=content, styles=[style], size=size)
        sources = load_sources(config)
        plan = images.plan_sizes(sources.content.size, [s.size for s in sources.styles], size)
        pixels, style_pixels = sources.at(plan)
        alone = np.clip(np.rint(feed_forward_picture(config, painter, pixels, style_pixels, None)), 0, 255)
        sheet_rows.append([("content", content_pixels), ("style", style_pixels[0]),
                           ("AdaIN alone", alone.astype(np.uint8)),
                           (f"from content {finals['content'][0]:.3f}", finals["content"][1]),
                           (f"from AdaIN {finals['adain'][0]:.3f}", finals["adain"][1])])
    print(f"the AdaIN start ended lower on {wins} of {len(pairs)} pairs", flush=True)
    with tf.device(resolve_device(args.device)):
        seconds = interleaved_seconds({"adain": lambda: feed_forward_picture(config, painter, pixels, style_pixels,
                                                                              None)}, args.rounds or 5)["adain"]
    print(f"AdaIN alone at {pixels.shape[1]}x{pixels.shape[0]}: {min_median(seconds)} s per picture (min/median)",
          flush=True)
    if args.output:
        save_sheets(args.output, "starts", sheet_rows)
    return 0


# --- time to quality -----------------------------------------------------------------------------

def float32_loss_function(content: str, style: str, size: int) -> Tuple[Callable[[np.ndarray], float], Any]:
    """The default objective in float32 at the final size, as a function of a 1 x H x W x 3 network
    image; and the uint8 content at that size."""
    import tensorflow as tf

    from neural_style.api import prepare_images
    from neural_style.config import StyleConfig
    from neural_style.objective.build import build_objective
    from neural_style.features.vgg19 import build_feature_extractor

    config = StyleConfig(content=content, styles=[style], size=size, precision="float32", xla=False)
    content_pixels, style_pixels = prepare_images(config)
    objective = build_objective(config, build_feature_extractor(config), content_pixels, style_pixels)
    return (lambda network_image: float(objective.loss_and_gradient(tf.constant(network_image, tf.float32))[0]),
            content_pixels)


def time_to_quality(content: str, style: str, size: int, stop: Callable[[], bool],
                    say: Callable[[str], None] = print, iterations: int = 500) -> Dict[str, Any]:
    """Baseline and default runs, one after the other in this process; see the module's docstring.
    During the default run, its float32 loss is evaluated every 5 iterations at the final size (that
    time is left out of its clock) to find when it reached the baseline's final loss."""
    from neural_style.api import stylize
    from neural_style.features.network_input import preprocess

    loss_of, content_pixels = float32_loss_function(content, style, size)
    height, width = content_pixels.shape[:2]
    runs: Dict[str, Any] = {}
    for name, options in (("baseline", dict(BASELINE, iterations=iterations)), ("default", {"iterations": iterations}),
                          ("content start", {"iterations": iterations, "init": "content"})):
        say(f"{name}: {json.dumps(options) if options else 'the defaults'} ...")
        trace: List[Tuple[float, float]] = []
        overhead = [0.0]
        started = time.perf_counter()

        def track(step: Any, trace: list = trace, overhead: list = overhead, started: float = started) -> None:
            if (step.width, step.height) == (width, height) and step.iteration % 5 == 0:
                begun = time.perf_counter()
                loss = loss_of(step.image.reshape(1, height, width, 3))
                trace.append((begun - started - overhead[0], loss))
                overhead[0] += time.perf_counter() - begun

        result = stylize(content, style, size=size, snapshot_every=0, quiet=True, should_stop=stop,
                         on_step=track if name != "baseline" else None, **options)
        seconds = time.perf_counter() - started - overhead[0]
        runs[name] = {"result": result, "seconds": seconds, "trace": trace,
                      "float32_loss": loss_of(preprocess(result.image))}
        say(f"  {seconds:.1f} s, {result.iterations} iterations, {result.evaluations} evaluations, "
            f"float32 loss {runs[name]['float32_loss']:.4f} ({result.stop_reason})")
        if stop():
            break
    return runs


def summarise_time_to_quality(runs: Dict[str, Any], content: str, style: str, size: int) -> Dict[str, Any]:
    baseline, default = runs["baseline"], runs["default"]
    target = baseline["float32_loss"]

    def reached(run: Dict[str, Any]) -> Optional[float]:
        seconds = next((seconds for seconds, loss in run["trace"] if loss <= target), None)
        return run["seconds"] if seconds is None and run["float32_loss"] <= target else seconds

    def described(run: Dict[str, Any]) -> Dict[str, Any]:
        result = run["result"]
        return {"seconds": run["seconds"], "float32_loss": run["float32_loss"], "iterations": result.iterations,
                "evaluations": result.evaluations, "stop_reason": result.stop_reason,
                "precision": result.precision, "scales": result.config.scales,
                "tolerance": result.config.tolerance}

    summary = {
        "content": content, "style": style, "size": size,
        "baseline": described(baseline), "default": described(default),
        "wall_time_ratio": baseline["seconds"] / default["seconds"],
        "default_loss_vs_baseline": default["float32_loss"] / target - 1.0,
        "default_reached_baseline_loss_after_seconds": reached(default),
    }
    if "content start" in runs:
        photo = runs["content start"]
        summary.update({"content_start": described(photo),
                        "content_start_loss_vs_baseline": photo["float32_loss"] / target - 1.0,
                        "content_start_reached_baseline_loss_after_seconds": reached(photo)})
    return summary


def run_time_to_quality(args: argparse.Namespace, stop: StopOnSignal) -> int:
    from neural_style import images
    from neural_style.files import write_json

    content, style = args.time_to_quality
    if args.output:
        os.makedirs(args.output, exist_ok=True)
    runs = time_to_quality(content, style, args.size, stop, say=(lambda text: None) if args.quiet else print)
    if stop() or "content start" not in runs:
        return 0
    summary = summarise_time_to_quality(runs, content, style, args.size)
    print(json.dumps(summary, indent=2))
    if args.output:
        baseline, default = runs["baseline"], runs["default"]
        sheet = images.side_by_side([
            (f"baseline: float32, 1 scale, 500 it., {baseline['seconds']:.0f} s, loss {baseline['float32_loss']:.2f}",
             baseline["result"].image),
            (f"default: {default['seconds']:.0f} s, loss {default['float32_loss']:.2f}", default["result"].image),
            (f"--init content: {runs['content start']['seconds']:.0f} s, "
             f"loss {runs['content start']['float32_loss']:.2f}", runs["content start"]["result"].image),
        ])
        images.save_image(os.path.join(args.output, "time_to_quality.png"), np.asarray(sheet))
        images.save_image(os.path.join(args.output, "baseline.png"), baseline["result"].image)
        images.save_image(os.path.join(args.output, "default.png"), default["result"].image)
        write_json(os.path.join(args.output, "summary.json"), summary)
    return 0


# --- high resolution ----------------------------------------------------------------------------

def tiled_worker(content: str, style: str, size: int, tile: int, precision: str, evaluations: int) -> None:
    """Run in a process of its own: build the objective at `size` (whole for `tile` 0), evaluate once
    untimed and `evaluations` times timed, and print a JSON line with the seconds and the peak memory."""
    from neural_style.commands.common import start_tensorflow

    start_tensorflow()
    import tensorflow as tf

    from neural_style.api import prepare_images
    from neural_style.config import StyleConfig
    from neural_style.objective.build import build_objective
    from neural_style.optim.memory import peak_resident_bytes
    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.features.network_input import preprocess

    config = StyleConfig(content=content, styles=[style], size=size, precision=precision, xla=False, tile_size=tile)
    content_pixels, style_pixels = prepare_images(config)
    extractor = build_feature_extractor(config)
    objective = build_objective(config, extractor, content_pixels, style_pixels, tile)
    image = tf.constant(preprocess(content_pixels))
    seconds = []
    for index in range(evaluations + 1):
        started = time.perf_counter()
        objective.loss_and_gradient(image)[2].numpy()
        if index:
            seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "peak_bytes": peak_resident_bytes(),
                      "width": content_pixels.shape[1], "height": content_pixels.shape[0]}), flush=True)


def _tiled_measurement(args: argparse.Namespace, size: int, tile: int) -> Dict[str, Any]:
    code = (f"from neural_style.commands.benchmark import tiled_worker; tiled_worker({args.content!r}, {args.style!r}, "
            f"{size}, {tile}, {args.precision!r}, 1)")
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if process.returncode != 0:
        raise RuntimeError(f"the measurement at {size} px (tile {tile}) failed: {process.stderr[-500:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def halo_share(width: int, height: int, tile: int, halo: int) -> float:
    """The share of the pixels a tiled evaluation reads that are halo (read again by a neighbour)."""
    from neural_style.objective.tiled import tile_grid

    read = sum((rows.end - rows.start) * (columns.end - columns.start)
               for rows, columns in tile_grid(height, width, tile, halo))
    return read / (width * height) - 1.0


def run_tiled_table(args: argparse.Namespace, stop: StopOnSignal) -> int:
    from PIL import Image

    from neural_style import images
    from neural_style.optim.memory import available_memory_bytes, plan_memory
    from neural_style.config import DEFAULT_TILE_HALO

    sizes = args.sizes or [1024, 2048, 4096]
    rounds = max(1, args.rounds or 2)
    available = available_memory_bytes()
    print(f"{os.cpu_count()} CPUs, {available / 1e9 if available else float('nan'):.1f} GB available; {args.precision}; "
          f"tiles of {args.tile_size} px with a {DEFAULT_TILE_HALO} px halo; each measurement a process of its own, "
          f"whole and tiled alternating, {rounds} rounds; seconds per evaluation as min/median")
    print(f"{'size':>10} {'whole s/eval':>14} {'whole peak':>10} {'tiled s/eval':>14} {'tiled peak':>10} "
          f"{'per pixel':>9} {'halo':>6}", flush=True)
    with Image.open(args.content) as content, Image.open(args.style) as style:
        content_size, style_size = content.size, style.size
    for size in sizes:
        plan = images.plan_sizes(content_size, [style_size], size)
        width, height = plan.content
        try:
            plan_memory(size, [plan.content, *plan.styles], 10, tile_size=0, available=available)
            variants = {"whole": 0, "tiled": args.tile_size}
        except Exception:  # the whole image does not fit here: tiled only
            variants = {"tiled": args.tile_size}
        results: Dict[str, List[Dict[str, Any]]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, tile in variants.items():
                if stop():
                    return 0
                results[name].append(_tiled_measurement(args, size, tile))
        cells = {}
        for name in ("whole", "tiled"):
            runs = results.get(name)
            times = [t for run in runs for t in run["seconds"]] if runs else []
            cells[name] = ((min_median(times), f"{max(run['peak_bytes'] for run in runs) / 2**30:.1f} GiB")
                           if runs else ("does not fit", "-"))
        ratio = (min(t for run in results["tiled"] for t in run["seconds"])
                 / min(t for run in results["whole"] for t in run["seconds"]) if "whole" in results else float("nan"))
        print(f"{width:>5}x{height:<4} {cells['whole'][0]:>14} {cells['whole'][1]:>10} {cells['tiled'][0]:>14} "
              f"{cells['tiled'][1]:>10} {ratio:>8.2f}x {100 * halo_share(width, height, args.tile_size, DEFAULT_TILE_HALO):>5.0f}%",
              flush=True)
    return 0


# --- video ----------------------------------------------------------------------------------------

def run_video_table(args: argparse.Namespace, stop: StopOnSignal) -> int:
    """Independent frames (each from its own input frame, --iterations each, no temporal loss) against
    the temporal mode (each later frame from the previous one, half the iterations) at each temporal
    weight: flicker (optical_flow.flicker) and seconds per frame after the first."""
    import tempfile

    from neural_style import images
    from neural_style.video.optical_flow import flicker
    from neural_style.video.stylize import FRAME_PATTERN, VideoOptions, read_input, resize_frames, stylize_video

    clip, style = args.video
    size = args.size if args.size != 512 else 256
    inputs = resize_frames(read_input(clip, VideoOptions(max_frames=args.frames))[0], size)
    modes = {"independent": VideoOptions(temporal_weight=0.0, init="content", max_frames=args.frames)}
    for weight in args.temporal_weights:
        modes[f"temporal {weight:g}"] = VideoOptions(temporal_weight=weight, max_frames=args.frames,
                                                     frame_iterations=args.iterations // 2)
    print(f"{len(inputs)} frames at {inputs[0].shape[1]}x{inputs[0].shape[0]}; a frame from scratch runs "
          f"{args.iterations} iterations, a frame from the previous one {args.iterations // 2}")
    print(f"{'mode':>16} {'flicker':>8} {'first s':>8} {'later s/frame':>14}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name, options in modes.items():
            if stop():
                return 0
            folder = os.path.join(args.output or scratch, name.replace(" ", "_").replace(".", "p"))
            result = stylize_video(clip, style, folder, video=options, size=size, iterations=args.iterations,
                                   quiet=True, should_stop=stop)
            outputs = [images.to_array(images.load_image(os.path.join(folder, FRAME_PATTERN.format(i + 1))))
                       for i in range(result.frames)]
            later = result.seconds_per_frame[1:]
            print(f"{name:>16} {flicker(outputs, inputs[:len(outputs)]):>8.2f} {result.seconds_per_frame[0]:>8.1f} "
                  f"{min_median(later) if later else 'n/a':>14}", flush=True)
    return 0


# --- batch ----------------------------------------------------------------------------------------

BATCH_WAYS = {"1 process": {}, "2 workers": {"workers": 2}, "Ray local": {"ray": "local"},
              "Ray 2 nodes": {"ray": "two-node"}}
SHARED_PAINTINGS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "images")


def batch_images() -> Tuple[List[str], List[str]]:
    """2 contents and 4 styles: the samples, and paintings from ../shared/images where they are."""
    contents = [os.path.join(SAMPLES, name) for name in ("chelsea.jpg", "coffee.jpg")]
    styles = [os.path.join(SAMPLES, "swirls.jpg")]
    for name in ("starry_night.jpg", "the_scream.jpg", "woman-with-hat-matisse.jpg"):
        if os.path.isfile(os.path.join(SHARED_PAINTINGS, name)):
            styles.append(os.path.join(SHARED_PAINTINGS, name))
    styles += [os.path.join(SAMPLES, name) for name in ("chelsea.jpg", "coffee.jpg")][:4 - len(styles)]
    return contents, styles[:4]


def batch_way(way: str, outdir: str) -> None:
    """One batch run as `way` (in a process of its own); prints the batch's seconds as JSON."""
    from neural_style.batch.run import stylize_batch

    contents, styles = batch_images()
    options = dict(BATCH_WAYS[way])
    cluster = None
    if options.get("ray") == "two-node":
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        options["ray"] = cluster.address
    started = time.perf_counter()
    result = stylize_batch(contents, styles, outdir, size=128, iterations=50, quiet=True, overwrite=True, **options)
    seconds = time.perf_counter() - started
    if cluster is not None:
        cluster.shutdown()
    print(json.dumps({"seconds": seconds, "done": result.count("done"),
                      "job_seconds": [float(row["seconds"]) for row in result.rows if row["seconds"]]}))


def run_batch_table(args: argparse.Namespace, stop: StopOnSignal) -> int:
    import tempfile

    rounds = max(1, args.rounds or 2)
    contents, styles = batch_images()
    print(f"{len(contents)} contents x {len(styles)} styles at 128 px, 50 iterations; {os.cpu_count()} CPUs; each way "
          f"a process of its own, alternating, {rounds} rounds; wall time from process start, min/median")
    print(f"{'way':>12} {'wall s':>14} {'jobs/hour':>10} {'s/job in task':>14} {'vs 2 workers/job':>17}", flush=True)
    walls: Dict[str, List[float]] = {way: [] for way in BATCH_WAYS}
    tasks: Dict[str, List[float]] = {way: [] for way in BATCH_WAYS}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(rounds):
            for way in BATCH_WAYS:
                if stop():
                    return 0
                code = f"from neural_style.commands.benchmark import batch_way; batch_way({way!r}, {os.path.join(scratch, way)!r})"
                started = time.perf_counter()
                process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
                wall = time.perf_counter() - started
                if process.returncode != 0:
                    print(f"{way}: failed: {process.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                report = json.loads(process.stdout.strip().splitlines()[-1])
                walls[way].append(wall)
                tasks[way].extend(report["job_seconds"])
    jobs = len(contents) * len(styles)
    # Ray's overhead is measured against the local pool of the same parallelism (2 jobs at a time).
    pool = min(walls["2 workers"]) if walls["2 workers"] else float("nan")
    for way in BATCH_WAYS:
        if not walls[way]:
            continue
        overhead = f"{(min(walls[way]) - pool) / jobs:+.2f}s" if way.startswith("Ray") else "-"
        print(f"{way:>12} {min_median(walls[way]):>14} {jobs / min(walls[way]) * 3600:>10.0f} "
              f"{statistics.median(tasks[way]):>14.2f} {overhead:>17}", flush=True)
    return 0


def run_studio_table(args: argparse.Namespace, stop: StopOnSignal) -> int:
    """Seconds per evaluation of a plain run and of the studio's Paint, interleaved, min/median."""
    import tempfile

    from neural_style.api import stylize
    from neural_style.commands.stylize import command_line
    from neural_style.studio.app import Studio, StudioForm
    from neural_style.config import WatchOptions
    from neural_style.studio.gallery import Gallery

    rounds = max(1, args.rounds or 3)
    with tempfile.TemporaryDirectory() as gallery:
        studio = Studio(Gallery(gallery), command_line)
        form = StudioForm(content_upload=args.content, style_uploads=[args.style], size=args.size,
                          iterations=args.iterations, seed=1 if args.seed is None else args.seed)
        config = form.config()
        quiet = WatchOptions(quiet=True, snapshot_every=0, log=False)
        extractor = studio.extractors.for_config(config)
        stylize(config=config.with_options(iterations=2), watch=quiet, extractor=extractor)  # traced once for both
        print(f"{config.size} px, {config.iterations} iterations, {rounds} rounds interleaved; seconds per evaluation, "
              "min/median", flush=True)
        seconds: Dict[str, List[float]] = {"plain run": [], "studio Paint": []}
        for _ in range(rounds):
            if stop():
                return 0
            result = stylize(config=config, watch=quiet, extractor=extractor, should_stop=stop)
            seconds["plain run"].append(result.seconds / max(1, result.evaluations))
            frames = 0
            for *_, entry in studio.paint(form):
                frames += 1
            with open(entry.settings) as stream:
                run = json.load(stream)["run"]
            seconds["studio Paint"].append(run["seconds"] / max(1, run["evaluations"]))
            print(f"  plain {seconds['plain run'][-1]:.4f}, studio {seconds['studio Paint'][-1]:.4f} ({frames} frames)",
                  flush=True)
    for way, values in seconds.items():
        print(f"{way:>13} {min_median(values)}", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`neural-style benchmark`; returns the exit status."""
    args = build_parser().parse_args(argv)
    body = (run_time_to_quality if args.time_to_quality else run_tiled_table if args.tiled
            else run_video_table if args.video else run_batch_table if args.batch
            else run_style_losses if args.style_losses else run_starts if args.starts
            else run_studio_table if args.studio else run_speed_table)
    return run_command(PROG, lambda stop: body(args, stop))


if __name__ == "__main__":
    raise SystemExit(main())

