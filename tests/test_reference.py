"""Parity with the PyTorch reference: the `reference` preset minimises the chapter's own objective."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch reference needs torch: pip install -e .[reference]")

import tensorflow as tf  # noqa: E402

from neural_style import reference as ref  # noqa: E402
from neural_style import stylize  # noqa: E402
from neural_style.config import PRESETS, StyleConfig  # noqa: E402
from neural_style.objective.build import terms_for  # noqa: E402
from neural_style.objective.evaluation import compute_targets
from neural_style.objective.whole import Objective, WholeFeatures  # noqa: E402
from neural_style.features.vgg19 import feature_extractor  # noqa: E402
from neural_style.features.network_input import preprocess  # noqa: E402

from tests.helpers import IMAGES  # noqa: E402

CONTENT, STYLE = os.path.join(IMAGES, "chelsea.jpg"), os.path.join(IMAGES, "swirls.jpg")


@pytest.fixture(scope="module")
def torch_network():
    return ref.load_network()


def keras_objective(vgg19, content, style):
    config = StyleConfig(**PRESETS["reference"])
    extractor = feature_extractor(vgg19, tuple(dict.fromkeys(config.content_layers + config.style_layers)))
    terms = terms_for(config)
    targets = compute_targets(WholeFeatures(extractor), terms, tf.constant(preprocess(content)), [tf.constant(preprocess(style))], [1.0])
    return Objective(extractor, terms, targets)


def normalised_to_keras(z):
    """The reference's variable (1x3xHxW normalised RGB) as this tool's network image (1xHxWx3 BGR caffe)."""
    rgb01 = (z[0] * torch.tensor(ref.STD).view(3, 1, 1) + torch.tensor(ref.MEAN).view(3, 1, 1))
    return preprocess(rgb01.permute(1, 2, 0).double().numpy() * 255.0)


def keras_gradient_in_reference_space(gradient):
    """d loss / d x (BGR caffe pixels) -> d loss / d z (normalised RGB): reorder and scale by 255 * std."""
    return gradient[0][..., ::-1].transpose(2, 0, 1)[None] * (255.0 * np.array(ref.STD)).reshape(1, 3, 1, 1)


@pytest.mark.parametrize("size", [48, 96])
@pytest.mark.parametrize("start", ["content", "random"])
def test_objective_and_gradient_agree(vgg19, torch_network, size, start):
    content, style = ref.load_pair(CONTENT, STYLE, size)
    assert min(content.shape[:2]) == size and style.shape == content.shape
    keras_side = keras_objective(vgg19, content, style)
    torch_side = ref.ReferenceObjective(torch_network, ref.to_tensor(content), ref.to_tensor(style))
    pixels = content if start == "content" else np.random.default_rng(size).integers(0, 256, content.shape, np.uint8)
    z = ref.to_tensor(pixels)

    torch_loss, torch_gradient = torch_side.loss_and_gradient(z)
    keras_loss, _, keras_gradient = keras_side.loss_and_gradient(tf.constant(normalised_to_keras(z), tf.float32))
    keras_gradient = keras_gradient_in_reference_space(keras_gradient.numpy())

    assert float(keras_loss) == pytest.approx(torch_loss, rel=1e-5)
    error = np.linalg.norm(keras_gradient - torch_gradient) / np.linalg.norm(torch_gradient)
    assert error < 1e-4


def test_adam_trajectories_agree_from_the_same_files(torch_network):
    """Ten Adam steps, lr 0.001, on both sides, each from the image files with its own sizing (the
    preset's torchvision sizing here, `load_pair` there): the loss after every step agrees to 1e-4
    (relative) and the images to within 1 grey level of 0-255. (This tool clamps to the valid pixel
    range, the reference does not; over ten steps of 0.001 that touches only saturated pixels.)"""
    content, style = ref.load_pair(CONTENT, STYLE, 48)
    reference_run = ref.run_reference(content, style, steps=10, network=torch_network)
    ours = stylize(CONTENT, STYLE, preset="reference", size=48, optimizer="adam", iterations=10,
                   snapshot_every=0, quiet=True, xla=False)
    assert ours.image.shape == content.shape == (48, 72, 3)  # 451 x 300 -> Resize(48): 72.2 truncated to 72
    ours_losses = [r.total for r in ours.history]
    np.testing.assert_allclose(ours_losses, reference_run.losses, rtol=1e-4)
    assert ours_losses[-1] < ours_losses[0]
    assert np.abs(ours.image.astype(int) - reference_run.image.astype(int)).max() <= 1


def test_compare_writes_every_file_and_a_summary_that_agrees_with_them(tmp_path):
    import csv

    from PIL import Image

    from neural_style.commands.compare import run_compare

    folder = tmp_path / "comparison"
    summary = run_compare(CONTENT, STYLE, str(folder), steps=8, size=32, quiet=True)
    assert sorted(os.listdir(folder)) == ["losses.csv", "losses.png", "ours.png", "reference.png",
                                          "side_by_side.png", "summary.json"]
    with open(folder / "summary.json") as stream:
        written = json.load(stream)
    with open(folder / "losses.csv") as stream:
        rows = list(csv.DictReader(stream))
    reference_rows = [r for r in rows if r["program"] == "reference"]
    ours_rows = [r for r in rows if r["program"] == "ours"]
    assert [int(r["step"]) for r in reference_rows] == list(range(1, 9)) and ours_rows

    # Each number in the summary is the one the CSV and the pictures hold.
    assert written["reference"]["evaluations"] == 8
    assert written["reference"]["final_loss"] == float(reference_rows[-1]["loss"])
    assert written["reference"]["seconds"] == pytest.approx(float(reference_rows[-1]["seconds"]), abs=1e-4)
    assert written["ours"]["final_loss"] == float(ours_rows[-1]["loss"])
    assert written["ours"]["evaluations"] == int(ours_rows[-1]["evaluations"])
    first_below = next(r for r in ours_rows if float(r["loss"]) <= float(reference_rows[-1]["loss"]))
    reach = written["to_reference_final_loss"]
    assert reach["reached"] and reach["evaluations"] == int(first_below["evaluations"])
    assert reach["speedup"] == pytest.approx(float(reference_rows[-1]["seconds"]) / float(first_below["seconds"]),
                                             rel=1e-3)
    ours_image = np.asarray(Image.open(folder / "ours.png"), float)
    reference_image = np.asarray(Image.open(folder / "reference.png"), float)
    assert ours_image.shape == reference_image.shape == (32, 48, 3)
    difference = written["pixel_difference"]
    assert difference["mean_absolute"] == pytest.approx(np.abs(ours_image - reference_image).mean(), rel=1e-6)
    assert difference["max"] == np.abs(ours_image - reference_image).max()
    assert written["image_size"] == [48, 32] and summary["image_size"] == [48, 32]


def test_an_interrupted_compare_writes_nothing(tmp_path):
    from neural_style.commands.compare import run_compare

    folder = tmp_path / "comparison"
    steps = []
    summary = run_compare(CONTENT, STYLE, str(folder), steps=50, size=32, quiet=True,
                          should_stop=lambda: steps.append(1) or len(steps) > 3)
    assert summary is None and not folder.exists()
