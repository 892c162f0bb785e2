"""Features: Keras's VGG19 with weights loaded, cut after the deepest layer the losses read,
and the network's input convention (Caffe: BGR, 0-255, ImageNet mean subtracted)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from .weights import load_vgg19_weights

# Keras's VGG19 expects the Caffe convention; so does Gatys' normalised network after its
# opening 1x1 conv (see weights.py). Bounds of each BGR channel in that space:
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
PIXEL_LOW = -CAFFE_MEAN_BGR
PIXEL_HIGH = 255.0 - CAFFE_MEAN_BGR


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 RGB (uint8 or float 0-255) -> 1 x H x W x 3 float32 network input."""
    from keras.applications import vgg19

    batch = np.array(rgb, dtype=np.float32, copy=True)[np.newaxis]  # preprocess_input works in place
    return vgg19.preprocess_input(batch)


def deprocess(network_image: np.ndarray) -> np.ndarray:
    """1 x H x W x 3 (or H x W x 3) network input -> H x W x 3 uint8 RGB (rounded, clipped)."""
    bgr = np.asarray(network_image, dtype=np.float32).reshape(network_image.shape[-3:]) + CAFFE_MEAN_BGR
    return np.clip(np.rint(bgr[..., ::-1]), 0, 255).astype(np.uint8)


def pixel_bounds(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-value lower and upper bounds of a flattened 1 x H x W x 3 network image."""
    low = np.broadcast_to(PIXEL_LOW, (height, width, 3)).astype(np.float64).ravel()
    high = np.broadcast_to(PIXEL_HIGH, (height, width, 3)).astype(np.float64).ravel()
    return low, high


# torchvision's ImageNet normalisation, RGB order.
IMAGENET_MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float64)
IMAGENET_STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float64)


def adam_space(name: str, height: int, width: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The affine map x = scale * z + offset from the variable Adam updates to the network image
    (flat, BGR layout), or None for the pixels themselves. 'imagenet' is torchvision's normalised
    RGB image z = (rgb / 255 - mean) / std, the variable of the PyTorch reference."""
    if name == "pixels":
        return None
    scale_bgr = (255.0 * IMAGENET_STD_RGB)[::-1]
    offset_bgr = (255.0 * IMAGENET_MEAN_RGB)[::-1] - CAFFE_MEAN_BGR.astype(np.float64)
    scale = np.broadcast_to(scale_bgr, (height, width, 3)).ravel()
    offset = np.broadcast_to(offset_bgr, (height, width, 3)).ravel()
    return scale, offset


def build_vgg19(weights: str, cache_dir: Optional[str] = None, log: Optional[Callable[[str], None]] = None) -> Any:
    """Keras VGG19 without top, any input size, with weights from `weights` ('gatys', 'imagenet' or a file)."""
    import keras

    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    load_vgg19_weights(vgg, weights, cache_dir, log)
    return vgg


def feature_extractor(vgg: Any, layer_names: Sequence[str], pooling: str = "max") -> Any:
    """A model from the image to {layer name: activation}, built from `vgg`'s own layers up to
    the deepest one named, so no layer runs that no loss reads. `pooling='avg'` swaps each max
    pooling for average pooling (Gatys et al. found it gives smoother results)."""
    import keras

    wanted = set(layer_names)
    names = [layer.name for layer in vgg.layers]
    missing = wanted.difference(names)
    if missing:
        raise ValueError(f"VGG19 has no layer(s) {sorted(missing)}")
    deepest = max(names.index(name) for name in wanted)

    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = inputs
    outputs = {}
    for layer in vgg.layers[1 : deepest + 1]:
        if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
            x = keras.layers.AveragePooling2D(pool_size=2, strides=2, name=layer.name + "_avg")(x)
        else:
            x = layer(x)
        if layer.name in wanted:
            outputs[layer.name] = x
    return keras.Model(inputs, outputs, name="vgg19_features")


def deepest_downsampling(layer_names: Sequence[str]) -> int:
    """How many 2x poolings lie before the deepest of `layer_names` (block N has N - 1)."""
    return max(int(name.split("_")[0][len("block") :]) for name in layer_names) - 1
