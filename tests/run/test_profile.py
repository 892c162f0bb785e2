"""The profile of an evaluation (run/profile.py): its pieces, timed alone, add up to the evaluation timed whole,
and every layer the evaluation runs has its convolution's pieces."""

import os

import numpy as np
from keras import ops

from neural_style.run.profile import KINDS, profile_objective
from neural_style.config import StyleConfig
from neural_style.features.network_input import preprocess
from neural_style.objective.build import build_objective
from neural_style.run.sources import prepare_images
from tests.helpers import IMAGES


def test_the_pieces_add_up_to_the_evaluation_within_ten_percent(extractor):
    # float32: in bfloat16 TensorFlow runs the cheap, memory-bound pieces beside the convolutions, and the pieces timed
    # alone add up to more than the evaluation (docs/performance.md)
    config = StyleConfig(content=os.path.join(IMAGES, "chelsea.jpg"), styles=[os.path.join(IMAGES, "swirls.jpg")],
                         size=256, precision="float32", xla=False)
    content, styles = prepare_images(config)
    objective = build_objective(config, extractor, content, styles)
    noise = np.random.default_rng(0).uniform(-50, 50, (1,) + content.shape)
    image = ops.convert_to_tensor((preprocess(content) + noise).astype(np.float32))
    # Timings on a machine shared with other tests vary: a profile the machine disturbed is measured again, twice at
    # most (alone here: 0.99-1.08).
    for _ in range(3):
        profile = profile_objective(objective, image)
        if 0.9 <= profile.pieces_seconds / profile.evaluation_seconds <= 1.1:
            break
    assert 0.9 <= profile.pieces_seconds / profile.evaluation_seconds <= 1.1, profile.summary() + '\n' + profile.table()
    convolutions = {piece.layer for piece in profile.pieces if piece.kind == "convolution input gradient"}
    assert convolutions == {layer.name for layer in objective.extractor.layers if "conv" in layer.name}
    assert {"style statistics", "other terms", "pooling", "ReLU gradient"} <= {piece.kind for piece in profile.pieces}
    assert set(profile.seconds_by_kind()) == set(KINDS)
    assert len(profile.table().splitlines()) == len(profile.layers()) + 3
    assert 0 < profile.peak_fraction < 1.5


def test_benchmark_profile_and_a_runs_profile_print_their_tables(capsys, small_images, tmp_path):
    from neural_style.commands.cli import main

    assert main(["benchmark", "--profile", "--sizes", "64", "--precisions", "bfloat16", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "bfloat16 at 64x" in out and ": one evaluation" in out and "% of the convolution peak" in out
    assert "block5_conv1" in out and "of the evaluation" in out
    content, style = small_images
    assert main([content, style, "-o", str(tmp_path / "out.png"), "--size", "48", "--iterations", "2", "--profile",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "profile: " in err and "at 48x" in err and ": one evaluation" in err and "block1_conv1" in err
    assert (tmp_path / "out.png").exists()
