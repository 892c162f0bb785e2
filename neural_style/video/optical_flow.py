"""Optical flow between video frames (OpenCV), warping by it, and where it cannot be trusted.

Conventions: a flow field is H x W x 2 (dx, dy) in pixels, and `flow_to_previous[y, x]` says where the
pixel (x, y) of the current frame was in the previous one. Warping the previous stylised frame by it
gives what the current frame should look like where nothing new came into view.
"""

from __future__ import annotations

import numpy as np

from neural_style.errors import NeuralStyleError

# Forward-backward consistency (Sundaram, Brox & Keutzer 2010, as Ruder et al. 2016 use it): a pixel
# is occluded when following the flow there and back misses it by more than this share of the
# motion, plus this many squared pixels.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5


def _cv2():
    try:
        import cv2
    except ImportError:
        raise NeuralStyleError("video needs OpenCV: pip install -e '.[video]'") from None
    return cv2


def _grey(frame: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    return cv2.cvtColor(np.ascontiguousarray(frame, np.uint8), cv2.COLOR_RGB2GRAY)


def dense_flow(source: np.ndarray, target: np.ndarray, method: str = "dis") -> np.ndarray:
    """The flow from `source` to `target` (uint8 RGB frames of one size): for each pixel of `source`,
    where it is in `target`. `method`: OpenCV's DIS ('dis', its medium preset) or Farneback."""
    cv2 = _cv2()
    a, b = _grey(source), _grey(target)
    if method == "dis":
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 5, 7, 1.5, 0)
    raise ValueError(f"unknown flow method {method!r}")


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` (H x W x C, any dtype) sampled at each pixel plus `flow` (bilinear, edges clamped):
    with `flow_to_previous`, the previous frame moved to where the current one has it."""
    cv2 = _cv2()
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x = grid_x + flow[..., 0].astype(np.float32)
    map_y = grid_y + flow[..., 1].astype(np.float32)
    dtype = image.dtype
    warped = cv2.remap(image.astype(np.float32), map_x, map_y, interpolation=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    if warped.ndim == 2 and image.ndim == 3:
        warped = warped[..., None]
    return np.clip(np.round(warped), 0, 255).astype(dtype) if dtype == np.uint8 else warped.astype(dtype)


def consistency_mask(flow_to_previous: np.ndarray, flow_to_current: np.ndarray) -> np.ndarray:
    """H x W float32: 1 where the current frame's pixel was visible in the previous frame, 0 where it
    was occluded or came into view (the flow there and back does not return to it) or flows out of the
    frame."""
    there = flow_to_previous
    back = warp(flow_to_current, there)  # the previous frame's flow, read where each pixel came from
    round_trip = there + back
    error = np.sum(round_trip**2, axis=-1)
    bound = CONSISTENCY_RELATIVE * (np.sum(there**2, axis=-1) + np.sum(back**2, axis=-1)) + CONSISTENCY_ABSOLUTE
    height, width = there.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width), np.arange(height))
    source_x, source_y = grid_x + there[..., 0], grid_y + there[..., 1]
    inside = (source_x >= 0) & (source_x <= width - 1) & (source_y >= 0) & (source_y <= height - 1)
    return ((error <= bound) & inside).astype(np.float32)


def flicker(outputs: list, inputs: list, method: str = "dis") -> float:
    """Temporal instability of stylised `outputs` for input frames `inputs` (uint8 RGB lists): the mean
    absolute difference, over the pixels visible in both, between each output frame and the previous
    output warped to it by the input's flow. Grey levels (0-255); lower is steadier."""
    total = weight = 0.0
    for index in range(1, len(outputs)):
        to_previous = dense_flow(inputs[index], inputs[index - 1], method)
        to_current = dense_flow(inputs[index - 1], inputs[index], method)
        mask = consistency_mask(to_previous, to_current)
        warped = warp(outputs[index - 1].astype(np.float32), to_previous)
        difference = np.abs(outputs[index].astype(np.float32) - warped).mean(axis=-1)
        total += float((difference * mask).sum())
        weight += float(mask.sum())
    return total / max(weight, 1.0)


__all__ = ["consistency_mask", "dense_flow", "flicker", "warp"]
