"""What the backend tests measure, in a process of one backend (a process runs one): `python -m tests.backends.probe
BACKEND OUT.npz` evaluates the objective (value, terms, gradient) of each style loss, whole and in tiles, runs each
optimiser a few steps, paints with AdaIN, and repeats a seeded run; it saves every number to OUT.npz, and whether
TensorFlow was imported. tests/backends/test_parity.py compares the backends' files."""

import os
import sys

import numpy as np

BACKEND = sys.argv[1] if __name__ == "__main__" else "tensorflow"
# The backend, set before Keras is imported (what --backend does).
os.environ["KERAS_BACKEND"] = BACKEND

from PIL import Image  # noqa: E402

from tests.helpers import IMAGES  # noqa: E402

SIZE = (96, 64)  # width, height: small, and 2 x 2 tiles of 48 px
TILE = 48
# The objective's variants whose value and gradient are compared: {name: config options}.
OBJECTIVES = {"gram": dict(style_loss="gram"), "wasserstein": dict(style_loss="wasserstein")}
TILED = ("gram",)
# Runs: {name: stylize options}, all float32, seeded.
RUNS = {"adam_reference": dict(preset="reference", size=64, iterations=20, optimizer="adam"),
        # scipy's line search branches on rounding: after 8 iterations the backends' losses differ by up to 1.6%,
        # after 40 by 0.6% (measured on this project's Xeon).
        "lbfgs": dict(size=64, iterations=40, optimizer="lbfgs"),
        "lbfgs_device": dict(size=64, iterations=8, optimizer="lbfgs-device")}


def pictures():
    content = np.asarray(Image.open(os.path.join(IMAGES, "chelsea.jpg")).convert("RGB").resize(SIZE, Image.LANCZOS))
    style = np.asarray(Image.open(os.path.join(IMAGES, "swirls.jpg")).convert("RGB").resize((96, 72), Image.LANCZOS))
    return content, style


def evaluations(results: dict) -> None:
    from keras import ops

    from neural_style.config import StyleConfig
    from neural_style.features.network_input import preprocess
    from neural_style.features.vgg19 import build_feature_extractor, build_vgg19
    from neural_style.objective.build import build_objective

    content, style = pictures()
    noise = np.random.default_rng(0).uniform(-20, 20, (1, SIZE[1], SIZE[0], 3)).astype(np.float32)
    image = ops.convert_to_tensor(preprocess(content) + noise)
    vgg = build_vgg19("gatys")
    for name, options in OBJECTIVES.items():
        config = StyleConfig(content=content, styles=[style], precision="float32", **options)
        extractor = build_feature_extractor(config, vgg=vgg)
        for tile in (0, TILE) if name in TILED else (0,):
            total, terms, gradient = build_objective(config, extractor, content, [style], tile=tile
                                                     ).loss_and_gradient(image)
            key = f"{name}_tiled" if tile else name
            results[f"{key}_total"] = float(total)
            results[f"{key}_terms"] = ops.convert_to_numpy(terms)
            results[f"{key}_gradient"] = ops.convert_to_numpy(gradient)


def runs(results: dict) -> None:
    import time

    from neural_style.api import stylize

    content, style = pictures()
    for name, options in RUNS.items():
        started = time.perf_counter()
        result = stylize(content, style, seed=1, init="content", quiet=True, snapshot_every=0, log=False,
                         precision="float32", tolerance=0.0, backend=BACKEND, **options)
        results[f"{name}_losses"] = np.array([step.total for step in result.history])
        results[f"{name}_image"] = result.image
        results[f"{name}_seconds"] = time.perf_counter() - started
    again = stylize(content, style, seed=1, init="content", quiet=True, snapshot_every=0, log=False,
                    precision="float32", tolerance=0.0, backend=BACKEND, **RUNS["lbfgs_device"])
    results["lbfgs_device_again_image"] = again.image
    adain = stylize(content, style, method="adain", quiet=True, log=False, precision="float32", size=64,
                    backend=BACKEND)
    results["adain_image"] = adain.image


def main(out: str) -> None:
    import time

    results: dict = {}
    started = time.perf_counter()
    evaluations(results)
    results["seconds_evaluations"] = time.perf_counter() - started
    runs(results)
    results["seconds_runs"] = time.perf_counter() - started - results["seconds_evaluations"]
    results["tensorflow_imported"] = "tensorflow" in sys.modules
    import keras

    results["keras_backend"] = keras.backend.backend()
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[2])
