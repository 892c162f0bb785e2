"""Shared fixtures and constants: a private weights cache, small real images, the FAST run options, and a
quiet TensorFlow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(REPO, "images")

# The smallest runs that still exercise the whole pipeline: 48 px, a few iterations, no snapshots, quiet, the
# plain graph (XLA would compile for seconds per size), and the photo as the start (the default AdaIN start loads
# a second network, about a second a run: tests/feedforward tests it). Tests vary it: dict(FAST, iterations=4).
FAST = dict(size=48, iterations=6, snapshot_every=0, quiet=True, xla=False, init="content")


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Convert the real Gatys weights once per test session, away from the user's cache."""
    folder = tmp_path_factory.mktemp("weights-cache")
    previous = os.environ.get("NEURAL_STYLE_CACHE")
    os.environ["NEURAL_STYLE_CACHE"] = str(folder)
    yield str(folder)
    if previous is None:
        os.environ.pop("NEURAL_STYLE_CACHE", None)
    else:
        os.environ["NEURAL_STYLE_CACHE"] = previous


@pytest.fixture(scope="session")
def vgg19():
    """Keras VGG19 (no top) with the real Gatys weights."""
    from neural_style.features.vgg19 import build_vgg19

    return build_vgg19("gatys")


@pytest.fixture()
def small_images(tmp_path):
    """The sample content photo and style painting, small, as files."""
    content = tmp_path / "content.png"
    style = tmp_path / "style.png"
    Image.open(os.path.join(IMAGES, "chelsea.jpg")).resize((128, 85), Image.LANCZOS).save(content)
    Image.open(os.path.join(IMAGES, "swirls.jpg")).resize((128, 96), Image.LANCZOS).save(style)
    return str(content), str(style)


def random_image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def photo(width=300, height=200):
    """The sample coffee photo at width x height, as uint8 RGB."""
    return np.asarray(Image.open(os.path.join(IMAGES, "coffee.jpg")).convert("RGB").resize((width, height)))
