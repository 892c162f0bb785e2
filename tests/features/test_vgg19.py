"""The feature extractor: cut after the deepest layer used, same activations as the full VGG19."""

import numpy as np
import pytest

from neural_style.features.vgg19 import deepest_downsampling, feature_extractor


def _layer_names(model):
    return [layer.name for layer in model.layers]


def test_extractor_stops_at_the_deepest_layer_used(vgg19):
    extractor = feature_extractor(vgg19, ["block1_conv1", "block3_conv1"])
    names = _layer_names(extractor)
    assert names[-1] == "block3_conv1"
    assert not any(name.startswith(("block3_conv2", "block4", "block5")) for name in names)
    default = feature_extractor(vgg19, ["block4_conv2", "block1_conv1", "block5_conv1"])
    assert _layer_names(default)[-1] == "block5_conv1" and "block5_conv2" not in _layer_names(default)


def test_extractor_activations_equal_the_full_network(vgg19):
    import keras

    image = np.random.default_rng(0).uniform(-100, 100, (1, 32, 40, 3)).astype(np.float32)
    extractor = feature_extractor(vgg19, ["block2_conv1", "block4_conv2"])
    outputs = extractor(image)
    reference = keras.Model(vgg19.input, vgg19.get_layer("block4_conv2").output)(image)
    np.testing.assert_allclose(np.asarray(outputs["block4_conv2"]), np.asarray(reference), rtol=1e-4, atol=1e-5)
    assert set(outputs) == {"block2_conv1", "block4_conv2"}


def test_average_pooling_replaces_max_pooling(vgg19):
    extractor = feature_extractor(vgg19, ["block3_conv1"], pooling="avg")
    kinds = {type(layer).__name__ for layer in extractor.layers}
    assert "AveragePooling2D" in kinds and "MaxPooling2D" not in kinds


def test_unknown_layer_is_refused(vgg19):
    with pytest.raises(ValueError, match="no layer"):
        feature_extractor(vgg19, ["block9_conv1"])


def test_downsampling_count():
    assert deepest_downsampling(["block1_conv1"]) == 0
    assert deepest_downsampling(["block4_conv2", "block5_conv1"]) == 4
