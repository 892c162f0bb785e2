"""The network's input convention: Keras's VGG19 (and Gatys' normalised network after its opening
1x1 conv, see weights.py) takes Caffe's BGR, 0-255, ImageNet mean subtracted; the PyTorch reference
takes torchvision's normalised RGB."""

from __future__ import annotations

import numpy as np

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


def deprocess_float(network_image: np.ndarray) -> np.ndarray:
    """1 x H x W x 3 (or H x W x 3) network input -> H x W x 3 float32 RGB in 0-255 (clipped, not rounded)."""
    bgr = np.asarray(network_image, dtype=np.float32).reshape(network_image.shape[-3:]) + CAFFE_MEAN_BGR
    return np.clip(bgr[..., ::-1], 0, 255)


def deprocess(network_image: np.ndarray) -> np.ndarray:
    """1 x H x W x 3 (or H x W x 3) network input -> H x W x 3 uint8 RGB (rounded, clipped)."""
    return np.rint(deprocess_float(network_image)).astype(np.uint8)


def pixel_bounds(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-value lower and upper bounds of a flattened 1 x H x W x 3 network image."""
    low = np.broadcast_to(PIXEL_LOW, (height, width, 3)).astype(np.float64).ravel()
    high = np.broadcast_to(PIXEL_HIGH, (height, width, 3)).astype(np.float64).ravel()
    return low, high


# torchvision's ImageNet normalisation, RGB order (the PyTorch reference's input convention).
IMAGENET_MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float64)
IMAGENET_STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float64)
