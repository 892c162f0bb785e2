"""bfloat16's drift: a picture painted in bfloat16 scores, under the float32 objective at the final size, within 3% of
the one painted in float32 with the same settings (80 iterations at 256 px: the bar the speed goal allows)."""

import os

import pytest

from neural_style.api import stylize
from neural_style.benchmarks.measure import float32_loss_function
from neural_style.features.network_input import preprocess
from tests.helpers import IMAGES


def test_a_bfloat16_picture_scores_within_3_percent_of_a_float32_one():
    from neural_style.backends.hardware import resolve_precision

    if resolve_precision("auto", "/CPU:0")[0] != "bfloat16":  # emulated bfloat16 is minutes a run, and no default
        pytest.skip("this CPU does not run bfloat16 natively (auto keeps float32): the drift is a native CPU's")
    content, style = os.path.join(IMAGES, "chelsea.jpg"), os.path.join(IMAGES, "swirls.jpg")
    loss_of, _ = float32_loss_function(content, style, 256)
    scores = {}
    for precision in ("float32", "bfloat16"):
        result = stylize(content, style, size=256, iterations=80, precision=precision, seed=0, quiet=True,
                         snapshot_every=0)
        assert result.iterations == 80
        scores[precision] = loss_of(preprocess(result.image))
    assert abs(scores["bfloat16"] - scores["float32"]) <= 0.03 * scores["float32"], scores
