"""The run's picture as the user gets it: at the output's size (a coarse scale's picture upsampled), with the
content's colours where --original-colors asks, as 8 bits (rounded) or 16 (not), and written so that a long run never
loses it. Stills, snapshots, the timelapse, the pages, video frames and batch jobs are all rendered here."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable, List, Optional, Tuple

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.config import StyleConfig, WatchOptions, is_file_start
from neural_style.files import check_inputs_kept
from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import deprocess_float
from neural_style.watch.record import log_path, snapshot_path


def network_pixels(network_image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A flat (or 1 x H x W x 3) network image of width x height as H x W x 3 float RGB in 0-255."""
    return deprocess_float(np.asarray(network_image).reshape(1, height, width, 3))


def render(config: StyleConfig, pixels: np.ndarray, content_pixels: np.ndarray, rounded: bool = True,
           alpha: Optional[Image.Image] = None) -> np.ndarray:
    """Float RGB `pixels` (0-255, at any scale's size) as the output's picture: uint8 at the content's size
    (`content_pixels`, uint8 at the output's size) with its colours if --original-colors; or with `rounded` False
    float in 0-255 (a 16-bit output: the final picture, always at the output's size). With the content's `alpha`,
    a fourth channel: its transparency, kept."""
    if not rounded:
        exact = images.transfer_luminance_float(pixels, content_pixels) if config.original_colors else pixels
        return images.with_alpha(exact, alpha)
    picture = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    if picture.shape[:2] != content_pixels.shape[:2]:
        picture = images.to_array(images.resize_to(Image.fromarray(picture),
                                                   (content_pixels.shape[1], content_pixels.shape[0])))
    picture = images.transfer_luminance(picture, content_pixels) if config.original_colors else picture
    return images.with_alpha(picture, alpha)


def save_final_image(path: str, pixels: np.ndarray, notify: Callable[[str], None],
                     save: Optional[Callable[[str, np.ndarray], None]] = None) -> str:
    """Write the final picture with `save` (default images.save_image); if that fails (a full disk, a folder gone),
    save it in a new folder of the user's own (0700) in the system's temporary folder instead, with the umask's mode,
    and say where, so a long run never loses its picture (and no other user reads it or plants a file at its name)."""
    save = save or images.save_image
    try:
        save(path, pixels)
        return path
    except OSError as error:
        try:
            fallback = os.path.join(tempfile.mkdtemp(prefix="neural_style_"), os.path.basename(path))
            save(fallback, pixels)
        except OSError:
            raise NeuralStyleError(
                f"cannot write {path} ({error.strerror or error}), nor a copy in {tempfile.gettempdir()}: "
                "free some disk space and continue from the last snapshot with --init"
            ) from None
        notify(f"warning: cannot write {path} ({error.strerror or error}); saved the picture as {fallback} instead")
        return fallback


def kept_alpha(path: Optional[str], alpha: Optional[Image.Image], notify: Callable[[str], None]
               ) -> Optional[Image.Image]:
    """The content's transparency where `path`'s format can hold it; where it cannot (a JPEG), None, said once."""
    if alpha is None or not path or os.path.splitext(path)[1].lower() in images.ALPHA_EXTENSIONS:
        return alpha
    notify(f"note: {os.path.basename(path)} cannot hold the content's transparency, so it is dropped: write a .png, "
           ".webp or .tif to keep it")
    return None


def write_output(config: StyleConfig, pixels: np.ndarray, content_pixels: np.ndarray,
                 notify: Callable[[str], None], alpha: Optional[Image.Image] = None,
                 rendered: Optional[np.ndarray] = None) -> str:
    """The final picture (float RGB `pixels` at the output's size, with the content's `alpha` where the format takes
    it: kept_alpha) written to `config.output` at 8 or 16 bits (images.output_bits); returns where it was written.
    `rendered` is the 8-bit picture `render` already made of them, where the caller has it."""
    if images.output_bits(config.output, config.output_bits) == 16:
        return save_final_image(config.output, render(config, pixels, content_pixels, rounded=False, alpha=alpha),
                                notify, images.save_image_16)
    if rendered is None:
        rendered = render(config, pixels, content_pixels, alpha=alpha)
    return save_final_image(config.output, rendered, notify)


def check_output(config: StyleConfig, watch: Optional[WatchOptions] = None) -> None:
    """Before any work: the output can be written, at the bits per channel it asks for, and none of the run's files
    (the picture; with `watch`, its snapshots, log and timelapse) is one of its inputs."""
    if config.output:
        images.check_writable_image_path(config.output)
        if images.output_bits(config.output, config.output_bits) == 16:
            images.check_sixteen_bit_output(config.output)
    check_inputs_kept(run_outputs(config, watch), run_inputs(config))


def run_inputs(config: StyleConfig) -> List[Tuple[str, Any]]:
    """Every file a run reads, as (what, path): the content, the styles, the masks, a file it starts from."""
    return [("content image", config.content), *(("style image", style) for style in config.styles),
            *(("mask", mask) for mask in config.masks), *(("style mask", mask) for mask in config.style_masks),
            *([("--init picture", config.init)] if is_file_start(config.init) else [])]


def run_outputs(config: StyleConfig, watch: Optional[WatchOptions] = None) -> List[Tuple[str, str]]:
    """Every file a run may write, as (what, path): the picture, and with `watch` its snapshots, log and timelapse."""
    outputs = [("output", config.output)] if config.output else []
    if watch is not None:
        if config.output and watch.snapshot_every:
            outputs += [("snapshot", snapshot_path(config.output, iteration))
                        for iteration in range(watch.snapshot_every, config.iterations + 1, watch.snapshot_every)]
        if config.output and watch.log:
            outputs.append(("loss log", log_path(config.output)))
        if watch.timelapse:
            outputs.append(("timelapse", watch.timelapse))
    return outputs


__all__ = ["check_output", "network_pixels", "render", "run_inputs", "run_outputs", "save_final_image", "write_output"]
