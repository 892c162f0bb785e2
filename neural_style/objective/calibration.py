"""The style strength's calibration (`--style-calibration`): what makes one style weight mean the same on every
painting.

A style term's loss grows with the painting's own statistics: a Gram matrix is a mean of products of activations, so
the loss of matching it grows with their fourth power, and a dark, low-contrast painting's is tens of times smaller
than a bright, busy one's. At one weight the first barely moves the photo and the second covers it. Calibrated, each
layer's loss is divided by its target's own scale (the mean square of the Gram matrix, the second moment of the
features for the Wasserstein term) and multiplied by the sample painting's (`swirls.jpg`), so:

- on the sample painting nothing changes (today's weights keep their meaning there);
- on any other painting, each layer pulls as hard, relative to its painting, as it does on the sample;
- it is a function of the targets alone (computed from them inside the loss), so tiles, masks (each region's own
  target), blends, scales and video frames stay exact.

`gradient` is the other candidate measured, crowsonkb/style-transfer-pytorch's (`ScaledMSELoss`): each layer's
loss divided by the size of its current difference from the target (the mean absolute difference of the Gram
matrices; the square root of the Wasserstein distance), so its gradient has about the same norm wherever the picture
is, and multiplied by the sample pair's (the sample photo against the sample painting), so on the sample the first
step is today's. It depends on the picture as well as the target, but only through the layer's whole statistics,
so the tiled evaluation stays exact too.

`off` is the loss as it always was. The measurements that chose the default are in docs/style-strength.md.
"""

from __future__ import annotations

from typing import Any, Mapping

from keras import ops

# The sample painting's scales, per VGG19 layer (swirls.jpg at 512 px, Gatys' normalised weights, float32; measured
# by `benchmark --strength --reference`): the mean square of its 'mean'-normalised Gram matrix, and the mean second
# moment of its features (the Wasserstein term's scale).
REFERENCE_GRAM_SCALE: Mapping[str, float] = {
    "block1_conv1": 0.00773574, "block1_conv2": 0.00331606, "block2_conv1": 0.000557167, "block2_conv2": 0.00121321,
    "block3_conv1": 0.000257694, "block3_conv2": 9.90426e-05, "block3_conv3": 6.63016e-05, "block3_conv4": 0.000100787,
    "block4_conv1": 1.73094e-05, "block4_conv2": 1.76945e-05, "block4_conv3": 1.04923e-05, "block4_conv4": 2.90772e-05,
    "block5_conv1": 3.16157e-05, "block5_conv2": 3.75443e-05, "block5_conv3": 2.34889e-05, "block5_conv4": 0.000147635}
REFERENCE_MOMENT_SCALE: Mapping[str, float] = {
    "block1_conv1": 9.08698, "block1_conv2": 7.2372, "block2_conv1": 6.25797, "block2_conv2": 14.7714,
    "block3_conv1": 11.5865, "block3_conv2": 6.45086, "block3_conv3": 3.77466, "block3_conv4": 5.72583,
    "block4_conv1": 4.88052, "block4_conv2": 6.35916, "block4_conv3": 6.50877, "block4_conv4": 16.3263,
    "block5_conv1": 9.43731, "block5_conv2": 9.97915, "block5_conv3": 8.31325, "block5_conv4": 20.5365}
# The sample pair's differences, per layer (chelsea.jpg against swirls.jpg at 512 px, as above; `benchmark --strength
# --reference`): the mean absolute difference of their Gram matrices, and their Wasserstein loss.
REFERENCE_GRAM_DIFFERENCE: Mapping[str, float] = {
    "block1_conv1": 0.0511554, "block1_conv2": 0.0371932, "block2_conv1": 0.0150405, "block2_conv2": 0.0219965,
    "block3_conv1": 0.00927, "block3_conv2": 0.00658001, "block3_conv3": 0.00541466, "block3_conv4": 0.00686532,
    "block4_conv1": 0.00248165, "block4_conv2": 0.00243267, "block4_conv3": 0.00169724, "block4_conv4": 0.00199512,
    "block5_conv1": 0.00246737, "block5_conv2": 0.00242394, "block5_conv3": 0.00248537, "block5_conv4": 0.00474657}
REFERENCE_WASSERSTEIN_LOSS: Mapping[str, float] = {
    "block1_conv1": 6.32317, "block1_conv2": 3.88621, "block2_conv1": 3.49276, "block2_conv2": 7.24655,
    "block3_conv1": 6.32909, "block3_conv2": 3.16039, "block3_conv3": 1.60806, "block3_conv4": 2.65299,
    "block4_conv1": 3.23679, "block4_conv2": 4.83369, "block4_conv3": 3.49919, "block4_conv4": 9.12343,
    "block5_conv1": 7.48315, "block5_conv2": 11.101, "block5_conv3": 9.3394, "block5_conv4": 44.3819}


def gram_scale(target: Any) -> Any:
    """A Gram target's own scale: the mean of its squared entries."""
    return ops.mean(ops.square(target))


def moment_scale(target: Any) -> Any:
    """A Wasserstein target's own scale (rows 0..C-1 the covariance's square root, row C the mean): the mean second
    moment of the features, (|mean|^2 + tr(covariance)) / C."""
    channels = ops.shape(target)[1]
    root, mean = target[:channels], target[channels:]
    return (ops.sum(ops.square(mean)) + ops.sum(ops.square(root))) / ops.cast(channels, target.dtype)


def calibrated(loss: Any, own_scale: Any, reference: float) -> Any:
    """A layer's loss measured against a scale of its own (its target's for `target`; its current difference from
    the target for `gradient`), in the sample's units (`reference`, the same scale on the sample)."""
    return loss * (reference / ops.maximum(own_scale, 1e-30))


__all__ = ["REFERENCE_GRAM_DIFFERENCE", "REFERENCE_GRAM_SCALE", "REFERENCE_MOMENT_SCALE",
           "REFERENCE_WASSERSTEIN_LOSS", "calibrated", "gram_scale", "moment_scale"]
