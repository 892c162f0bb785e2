"""`neural-style benchmark --profile`: where an evaluation's time goes (neural_style/run/profile.py), at each size and
precision, on the sample pair."""

from __future__ import annotations

import argparse
from typing import Callable


from neural_style import backends
from neural_style.run.profile import profile_objective


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """`neural-style benchmark --profile`: the profile of each --precisions at each --sizes (default 512)."""
    from neural_style.benchmarks.measure import check_fits, noisy_network_image
    from neural_style.config import StyleConfig
    from neural_style.features.vgg19 import build_feature_extractor, build_vgg19
    from neural_style.backends.hardware import resolve_device
    from neural_style.objective.build import build_objective
    from neural_style.run.sources import prepare_images

    sizes, rounds = args.sizes or [512], args.rounds or 5
    check_fits([(args.content, args.style)], sizes, tile_size=0, device=args.device)
    device = resolve_device(args.device)
    print(f"device {device}, {backends.active().version()}; milliseconds per piece, the best of {rounds} calls "
          "(neural_style/run/profile.py says what each kind holds)")
    with backends.device_scope(device):
        vgg = build_vgg19("gatys")
        for precision in args.precisions:
            base = StyleConfig(precision=precision)
            extractor = build_feature_extractor(base, vgg=vgg)
            for size in sizes:
                if stop():
                    return 0
                config = base.with_options(content=args.content, styles=[args.style], size=size)
                content, styles = prepare_images(config)
                image = noisy_network_image(content, args.seed)
                profile = profile_objective(build_objective(config, extractor, content, styles), image, rounds)
                print(f"\n{profile.summary()}\n{profile.table()}", flush=True)
    return 0


__all__ = ["run"]
