"""Style strength across paintings (`benchmark --strength`): does one style weight give a comparable amount of style on
dark and bright, sparse and busy paintings? Each pair is painted at the default strength with each calibration
(--style-calibration off and target), and scored by measures other than the loss optimised:

- **style reached**: 1 - D(picture, painting) / D(photo, painting), where D is the 2-Wasserstein distance between
  Gaussians fitted to the features at the VGG19 layers the style loss does not read (conv1_2, conv2_2, conv3_2,
  conv4_2, conv5_2): 0 is as far from the painting as the photo, 1 its statistics;
- **content kept**: the conv4_2 features' squared distance from the photo's, relative to the photo's own.

The spread of each measure across pairs (its coefficient of variation) is the number the calibration should make
small (a dark painting's statistics are far from the photo's, so "style reached" rises quickly even when the photo
barely moves: "content moved" shows how much was painted); a sheet of every pair shows the pictures; the seconds per evaluation of each calibration end the table. Dark paintings are made here from the shared ones (their brightness
and contrast lowered), to stand for the dark, low-contrast paintings of users' reports. `--reference` instead prints
the sample painting's scales that calibration.py holds."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from typing import Callable, Dict, List, Tuple

import numpy as np
from keras import ops
from PIL import Image, ImageEnhance

from neural_style.api import stylize
from neural_style.benchmarks.measure import check_fits, interleaved_seconds, min_median, save_sheets
from neural_style.config import VGG19_CONV_LAYERS, StyleConfig
from neural_style.features.network_input import preprocess
from neural_style.backends.hardware import resolve_device, resolve_precision
from neural_style.features.vgg19 import build_feature_extractor
from neural_style.objective.build import build_objective
from neural_style.objective.calibration import gram_scale, moment_scale
from neural_style.objective.gram_style import gram_matrix, gram_style_term
from neural_style.objective.wasserstein_style import moment_sums, wasserstein_layer_loss, wasserstein_style_term
from neural_style.samples import sample
from neural_style.run.sources import prepare_images

SCORING_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2", "block5_conv2")
CALIBRATIONS_COMPARED = ("off", "target", "gradient")
REFERENCE_SIZE = 512


def darkened(path: str, folder: str, brightness: float = 0.4, contrast: float = 0.6) -> str:
    """A dark, low-contrast copy of a painting (for measurement only; never shipped)."""
    image = Image.open(path).convert("RGB")
    image = ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(brightness)).enhance(contrast)
    name = os.path.join(folder, "dark_" + os.path.basename(path))
    image.save(name, quality=95)
    return name


def strength_pairs(folder: str) -> List[Tuple[str, str]]:
    """The samples' photos with the bright, busy sample painting and dark copies of it (--pairs for other paintings,
    which get their dark copies alike)."""
    chelsea, coffee, swirls = sample("chelsea.jpg"), sample("coffee.jpg"), sample("swirls.jpg")
    dark = darkened(swirls, folder)
    return [(chelsea, swirls), (coffee, dark), (chelsea, dark), (coffee, swirls)]


class Scorer:
    """The measures of the module's docstring, for one pair at one size."""

    def __init__(self, content: str, style: str, size: int) -> None:
        config = StyleConfig(content=content, styles=[style], size=size, precision="float32", xla=False,
                             style_layers=SCORING_LAYERS, content_weight=0.0, tv_weight=0.0, style_weight=1.0,
                             style_loss="wasserstein", style_calibration="off")  # the measure: never calibrated
        self.content_pixels, style_pixels = prepare_images(config)
        extractor = build_feature_extractor(config.with_options(content_layers=("block4_conv2",)))
        self.style = build_objective(config, extractor, self.content_pixels, style_pixels)
        self.extractor = extractor
        self.photo_features = extractor.model(ops.convert_to_tensor(preprocess(self.content_pixels)))["block4_conv2"]
        self.photo_distance = self.distance(self.content_pixels)

    def distance(self, picture: np.ndarray) -> float:
        return float(self.style.term_values(ops.convert_to_tensor(preprocess(picture[..., :3])))["style"])

    def style_reached(self, picture: np.ndarray) -> float:
        return 1.0 - self.distance(picture) / self.photo_distance

    def content_moved(self, picture: np.ndarray) -> float:
        features = self.extractor.model(ops.convert_to_tensor(preprocess(picture[..., :3])))["block4_conv2"]
        return float(ops.mean(ops.square(features - self.photo_features))
                     / ops.mean(ops.square(self.photo_features)))


def run_reference(args: argparse.Namespace) -> int:
    """The sample painting's scales per layer, and the sample pair's differences, as calibration.py holds them."""
    config = StyleConfig(content=sample("chelsea.jpg"), styles=[sample("swirls.jpg")], size=REFERENCE_SIZE,
                         precision="float32", style_layers=VGG19_CONV_LAYERS)
    content, styles = prepare_images(config)
    extractor = build_feature_extractor(config)
    photo = extractor.model(ops.convert_to_tensor(preprocess(content)))
    tables = {}
    for loss, make, scale in (("gram", gram_style_term, gram_scale), ("wasserstein", wasserstein_style_term,
                                                                      moment_scale)):
        objective = build_objective(config.with_options(style_loss=loss), extractor, content, styles)
        targets = objective.targets["style"]
        tables[f"{loss} scale"] = {name: float(scale(target)) for name, target in targets.items()}
        if loss == "gram":
            tables["gram difference"] = {name: float(ops.mean(ops.abs(gram_matrix(photo[name]) - target)))
                                         for name, target in targets.items()}
        else:
            tables["wasserstein loss"] = {
                name: float(wasserstein_layer_loss(moment_sums(photo[name]), ops.size(photo[name]), target))
                for name, target in targets.items()}
    for table, values in tables.items():
        print(f"{table}: {{" + ", ".join(f'"{name}": {value:.6g}' for name, value in values.items()) + "}", flush=True)
    return 0


def spread(values: List[float]) -> str:
    """A measure across pairs: its mean, its spread (standard deviation over mean) and its range."""
    mean = statistics.mean(values)
    return (f"mean {mean:.3f}, spread (sd/mean) {statistics.pstdev(values) / mean:.3f}, range {min(values):.3f}-"
            f"{max(values):.3f} ({max(values) / min(values):.1f}x)")


def print_timing(rounds: int) -> None:
    """Seconds per evaluation with each calibration (the sample pair at 512 px, the default precision), interleaved:
    what calibration costs."""
    precision, _ = resolve_precision("auto", resolve_device(None))
    config = StyleConfig(content=sample("chelsea.jpg"), styles=[sample("swirls.jpg")], size=REFERENCE_SIZE,
                         precision=precision)
    content, styles = prepare_images(config)
    extractor = build_feature_extractor(config)
    image = ops.convert_to_tensor(preprocess(content))
    objectives = {calibration: build_objective(config.with_options(style_calibration=calibration), extractor,
                                               content, styles) for calibration in CALIBRATIONS_COMPARED}
    times = interleaved_seconds({name: (lambda o=o: ops.convert_to_numpy(o.loss_and_gradient(image)[2]))
                                 for name, o in objectives.items()}, rounds)
    print(f"seconds per evaluation at {REFERENCE_SIZE} px ({precision}), min/median of {rounds} "
          "interleaved rounds: " + ", ".join(f"{name} {min_median(t)}" for name, t in times.items()), flush=True)


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """The table, the spread and the sheets (see the module's docstring)."""
    if getattr(args, "reference", False):
        return run_reference(args)
    size, iterations = args.size, args.iterations
    seed = 1 if args.seed is None else args.seed
    with tempfile.TemporaryDirectory() as folder:
        pairs = [tuple(pair.split(":", 1)) for pair in args.pairs] if args.pairs else strength_pairs(folder)
        check_fits(pairs, [size])
        print(f"{len(pairs)} pairs at {size} px, {iterations} iterations, seed {seed}, the default strength; style "
              f"reached (W2 at {', '.join(SCORING_LAYERS)}, 0 the photo, 1 the painting) and content moved "
              "(conv4_2, relative)", flush=True)
        print("| pair | " + " | ".join(f"{c}: style reached | {c}: content moved" for c in CALIBRATIONS_COMPARED)
              + " |\n|" + " --- |" * (1 + 2 * len(CALIBRATIONS_COMPARED)), flush=True)
        reached: Dict[str, List[float]] = {name: [] for name in CALIBRATIONS_COMPARED}
        moved: Dict[str, List[float]] = {name: [] for name in CALIBRATIONS_COMPARED}
        sheet_rows = []
        for content, style in pairs:
            scorer = Scorer(content, style, size)
            cells, row = [], [("photo", scorer.content_pixels),
                              ("painting", np.asarray(Image.open(style).convert("RGB")))]
            for calibration in CALIBRATIONS_COMPARED:
                if stop():
                    return 0
                result = stylize(content, style, size=size, iterations=iterations, seed=seed, quiet=True,
                                 snapshot_every=0, style_calibration=calibration, device=args.device)
                reached[calibration].append(scorer.style_reached(result.image))
                moved[calibration].append(scorer.content_moved(result.image))
                cells.append(f"{reached[calibration][-1]:.3f} | {moved[calibration][-1]:.3f}")
                row.append((f"{calibration}: {reached[calibration][-1]:.2f}", result.image))
            print(f"| {os.path.basename(content)} / {os.path.basename(style)} | " + " | ".join(cells) + " |",
                  flush=True)
            sheet_rows.append(row)
    for calibration in CALIBRATIONS_COMPARED:
        print(f"{calibration}: style reached {spread(reached[calibration])}; content moved "
              f"{spread(moved[calibration])}", flush=True)
    if args.output:
        save_sheets(args.output, "strength", sheet_rows)
    if not stop():
        print_timing(args.rounds or 5)
    return 0


__all__ = ["SCORING_LAYERS", "Scorer", "darkened", "run", "strength_pairs"]
