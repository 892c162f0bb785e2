"""Style losses: each style loss on each pair at --size for --iterations (seeded); every result scored by every style
loss (its style term alone, unweighted, float32, at that size), the content kept, and each loss's seconds per
evaluation."""

from __future__ import annotations

import argparse
import os
from typing import Callable

from keras import ops

from neural_style.api import stylize
from neural_style.benchmarks.measure import check_fits, interleaved_seconds, min_median, pairs_from, save_sheets
from neural_style.config import STYLE_LOSSES, StyleConfig
from neural_style.features.network_input import preprocess
from neural_style.features.vgg19 import build_feature_extractor
from neural_style.objective.build import build_objective
from neural_style.run.sources import prepare_images


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Each style loss on each pair at --size for --iterations (seeded); every result scored by every style loss
    (its style term alone, unweighted, float32, at that size), and each loss's seconds per evaluation there."""
    pairs = pairs_from(args.pairs)
    size = args.size
    check_fits(pairs, [size], device=args.device)
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
                             snapshot_every=0, quiet=True, should_stop=stop, device=args.device,
                             memory_budget=args.memory_budget)
            pictures[loss] = result.image
        config = scorer.with_options(content=content, styles=[style])
        content_pixels, style_pixels = prepare_images(config)
        objectives = {loss: build_objective(config.with_options(style_loss=loss), extractor, content_pixels,
                                            style_pixels) for loss in STYLE_LOSSES}
        content_scorer = build_objective(config.with_options(content_weight=1.0, style_weight=0.0), extractor,
                                         content_pixels, style_pixels)
        name = f"{os.path.basename(content)} / {os.path.basename(style)}"
        for loss, picture in pictures.items():
            image = ops.convert_to_tensor(preprocess(picture))
            scores = [float(objectives[scored].term_values(image)["style"]) for scored in STYLE_LOSSES]
            content_score = float(content_scorer.term_values(image)["content"])
            print(f"{name:<36} {loss:<12} " + " ".join(f"{score:>20.5g}" for score in scores)
                  + f" {content_score:>13.4g}", flush=True)
        sheet_rows.append([("content", content_pixels), ("style", style_pixels[0])]
                          + [(loss, pictures[loss]) for loss in STYLE_LOSSES])
    image = ops.convert_to_tensor(preprocess(content_pixels))
    times = interleaved_seconds({loss: (lambda o=o: ops.convert_to_numpy(o.loss_and_gradient(image)[2]))
                                 for loss, o in objectives.items()}, args.rounds or 5)
    print("seconds per evaluation (float32, min/median, interleaved) at "
          f"{content_pixels.shape[1]}x{content_pixels.shape[0]}: "
          + ", ".join(f"{loss} {min_median(seconds)}" for loss, seconds in times.items()), flush=True)
    if args.output:
        save_sheets(args.output, "style_losses", sheet_rows)
    return 0


__all__ = ["run"]
