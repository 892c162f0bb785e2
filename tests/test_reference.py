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
from neural_style.losses import Objective, compute_targets  # noqa: E402
from neural_style.model import feature_extractor  # noqa: E402
from neural_style.network_input import preprocess  # noqa: E402

from conftest import IMAGES  # noqa: E402

CONTENT, STYLE = os.path.join(IMAGES, "chelsea.jpg"), os.path.join(IMAGES, "swirls.jpg")


@pytest.fixture(scope="module")
def torch_network():
    return ref.load_network()


def keras_objective(vgg19, content, style):
    config = StyleConfig(**PRESETS["reference"])
    extractor = feature_extractor(vgg19, tuple(dict.fromkeys(config.content_layers + config.style_layers)))
    targets = compute_targets(extractor, tf.constant(preprocess(content)), [tf.constant(preprocess(style))], [1.0],
                              config.content_layers, config.style_layers, config.style_normalization)
    return Objective(extractor, targets, config.resolved_loss_weights(),
                     dict(zip(config.style_layers, config.resolved_style_layer_weights())),
                     style_normalization=config.style_normalization)


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


def test_adam_trajectories_agree(torch_network):
    """Ten Adam steps, lr 0.001, on both sides: the loss after every step agrees to 1e-4 (relative)
    and the images to within 0.5 of a 0-255 level. (This tool clamps to the valid pixel range, the
    reference does not; over ten steps of 0.001 that touches only saturated pixels.)"""
    content, style = ref.load_pair(CONTENT, STYLE, 48)
    reference_run = ref.run_reference(content, style, steps=10, network=torch_network)
    ours = stylize(content, style, preset="reference", size=48, optimizer="adam", iterations=10,
                   snapshot_every=0, quiet=True, xla=False)
    ours_losses = [r.total for r in ours.history]
    np.testing.assert_allclose(ours_losses, reference_run.losses, rtol=1e-4)
    assert ours_losses[-1] < ours_losses[0]
    assert np.abs(ours.image.astype(int) - reference_run.image.astype(int)).max() <= 1


def test_compare_writes_every_file_and_a_complete_summary(tmp_path):
    from neural_style.compare import run_compare

    folder = str(tmp_path / "comparison")
    summary = run_compare(CONTENT, STYLE, folder, steps=8, size=32, quiet=True)
    assert sorted(os.listdir(folder)) == ["losses.csv", "losses.png", "ours.png", "reference.png",
                                          "side_by_side.png", "summary.json"]
    with open(os.path.join(folder, "summary.json")) as stream:
        written = json.load(stream)
    assert written == json.loads(json.dumps(summary))
    for key in ("final_loss", "seconds", "evaluations", "seconds_per_evaluation"):
        assert written["reference"][key] > 0 and written["ours"][key] > 0
    assert written["reference"]["evaluations"] == 8
    reach = written["to_reference_final_loss"]
    assert reach["reached"] and reach["evaluations"] >= 1 and reach["speedup"] > 0
    assert set(written["pixel_difference"]) >= {"mean_absolute", "rms", "max"}
    with open(os.path.join(folder, "losses.csv")) as stream:
        rows = stream.read().splitlines()
    assert rows[0] == "program,step,evaluations,seconds,loss"
    assert sum(r.startswith("reference,") for r in rows) == 8 and any(r.startswith("ours,") for r in rows)
