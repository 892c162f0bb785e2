"""Shared fixtures: a private weights cache, the real Gatys VGG19 and one feature extractor on it, small real images
as files, and a quiet TensorFlow. Constants and helpers are in tests/helpers.py."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tests.helpers import IMAGES  # noqa: E402


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


@pytest.fixture(scope="session")
def extractor(vgg19):
    """The default layers' feature extractor on the real weights, in float32 (features.vgg19.FeatureExtractor)."""
    from neural_style.config import StyleConfig
    from neural_style.features.vgg19 import build_feature_extractor

    return build_feature_extractor(StyleConfig(precision="float32"), vgg=vgg19)


@pytest.fixture()
def small_images(tmp_path):
    """The sample content photo and style painting, small, as files."""
    content = tmp_path / "content.png"
    style = tmp_path / "style.png"
    Image.open(os.path.join(IMAGES, "chelsea.jpg")).resize((128, 85), Image.LANCZOS).save(content)
    Image.open(os.path.join(IMAGES, "swirls.jpg")).resize((128, 96), Image.LANCZOS).save(style)
    return str(content), str(style)
