"""Where a picture starts: each named start, a file, and the names the configuration validates."""

import numpy as np
import pytest
from PIL import Image

from neural_style.config import NAMED_STARTS, is_file_start
from neural_style.run.starts import cold_start, start_picture
from tests.helpers import photo


def test_a_named_start_is_not_a_file_and_anything_else_is():
    assert not any(is_file_start(name) for name in NAMED_STARTS) and is_file_start("snapshot.png")


def test_each_start_gives_a_picture_of_the_contents_size(tmp_path):
    content = photo(40, 30)
    rng = np.random.default_rng(0)
    assert start_picture("content", content, rng) is content
    noise = start_picture("random", content, rng)
    assert noise.shape == (30, 40, 3) and 0 <= noise.min() and noise.max() <= 255 and noise.std() > 50
    painted = start_picture("adain", content, rng, lambda pixels: np.full(pixels.shape, 7.0))
    assert painted.shape == (30, 40, 3) and (painted == 7.0).all()
    with pytest.raises(ValueError, match="feed-forward painter"):
        start_picture("adain", content, rng)
    Image.fromarray(photo(80, 60)).save(tmp_path / "snapshot.png")
    resumed = start_picture(str(tmp_path / "snapshot.png"), content, rng)
    assert resumed.shape == (30, 40, 3) and resumed.dtype == np.uint8
    assert cold_start("adain") and cold_start("content") and not cold_start(str(tmp_path / "snapshot.png"))
    assert not cold_start("content", given=np.zeros((1, 30, 40, 3)))  # a video frame's warped predecessor
