"""Timelapse: the optimisation's pictures streamed, as the run goes, into a GIF, MP4 or WebP animation.

Frames go to an FFmpeg process through imageio's FFMPEG writer (imageio-ffmpeg ships its own ffmpeg),
one at a time, so memory does not grow with the frame count. Every frame has the output's size (coarse
scales are upsampled); the final picture is held at the end. The file is written under a temporary name
and renamed when it is complete; an MP4 is fragmented, so even a run killed outright leaves a playable
`.partial.mp4`.
"""

from __future__ import annotations

import os
import struct
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from neural_style.errors import NeuralStyleError
from neural_style.step import Step

HOLD_SECONDS = 1.5  # the final picture stays this long at the end

# Per container: the encoder and FFmpeg's options. MP4: H.264 in yuv420p (even sides: cropped), laid
# out as MP4_LAYOUT says. WebP: libwebp's animation encoder. GIF is not FFmpeg's: a palette per frame made in one
# pass there (palettegen stats_mode=single, paletteuse new=1) cost 85 ms a frame at 384 x 255, against
# about 1 ms a frame for H.264; Pillow's octree quantiser and GIF encoder, frame by frame, cost far less.
FORMATS: Dict[str, Dict[str, Any]] = {
    ".gif": {},  # written by GifWriter, in this process
    ".mp4": dict(codec="libx264", pix_fmt_out="yuv420p", output_params=[
        "-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2", "-crf", "20"]),
    ".webp": dict(codec="libwebp_anim", pix_fmt_out="yuv420p",
                  output_params=["-loop", "0", "-quality", "80", "-compression_level", "2"]),  # level 4: 2x the time
}


def _extension(path: str, what: str = "timelapse") -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise NeuralStyleError(f"{what} {path!r} has an unknown extension: use .gif, .mp4 or .webp")
    return extension


def partial_path(path: str) -> str:
    """Where a timelapse is written until it is complete: `name.partial.ext` beside it."""
    stem, extension = os.path.splitext(path)
    return f"{stem}.partial{extension}"


# How an MP4 is laid out. Fragments (a timelapse) play up to the last one written, so a killed run leaves a
# playable file, but cannot carry an edit list: the video then starts two frames (x264's B-frame delay)
# after the sound, 80 ms at 25 fps (measured on the sample clip). A finished video, encoded from saved
# frames, is written whole, with its index at the front for streaming, and starts with its sound.
MP4_LAYOUT = {True: ["-movflags", "frag_keyframe+empty_moov+default_base_moof"], False: ["-movflags", "+faststart"]}


def frame_writer(path: str, fps: float, width: int, height: int, audio_from: Optional[str] = None,
                 playable_while_written: bool = True) -> Any:
    """A writer of frames of one size into `path`, in the format its extension names. An MP4 written
    `playable_while_written` plays up to its last frame even if the writer never closes."""
    if _extension(path) == ".gif":
        return GifWriter(path, fps, width, height)
    return FrameWriter(path, fps, width, height, audio_from, playable_while_written)


class GifWriter:
    """An animated GIF written a frame at a time: each frame quantised to its own 256 colours by
    Pillow's octree quantiser and appended (GIF89a, looping), so nothing is held and a file cut short
    still plays up to its last whole frame."""

    def __init__(self, path: str, fps: float, width: int, height: int) -> None:
        self.size = (width, height)
        self.delay_ms = max(20, round(1000 / fps))  # browsers treat delays under 20 ms as 100 ms
        self._file = open(path, "wb")
        self._file.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)  # no global colour table
                         + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop for ever

    def append(self, picture: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image

        if (picture.shape[1], picture.shape[0]) != self.size:
            raise ValueError(f"frame {picture.shape[1]}x{picture.shape[0]} in a {self.size[0]}x{self.size[1]} file")
        frame = Image.fromarray(np.ascontiguousarray(picture, np.uint8)).quantize(256, Image.Quantize.FASTOCTREE)
        for chunk in GifImagePlugin.getdata(frame, duration=self.delay_ms, include_color_table=True):
            self._file.write(chunk)
        self._file.flush()

    def close(self) -> None:
        self._file.write(b";")
        self._file.close()


class FrameWriter:
    """Frames of one size handed to an FFmpeg process (imageio-ffmpeg's `write_frames`) as they come."""

    def __init__(self, path: str, fps: float, width: int, height: int, audio_from: Optional[str] = None,
                 playable_while_written: bool = True) -> None:
        try:
            import imageio_ffmpeg
        except ImportError:
            raise NeuralStyleError("--timelapse and video need imageio-ffmpeg: pip install -e '.[video]'") from None
        self.size = (width, height)
        sound = dict(audio_path=audio_from, audio_codec="aac") if audio_from else {}
        extension = _extension(path)
        options = dict(FORMATS[extension])
        if extension == ".mp4":
            options["output_params"] = options["output_params"] + MP4_LAYOUT[playable_while_written]
        self._frames = imageio_ffmpeg.write_frames(path, self.size, fps=fps, quality=None, macro_block_size=1,
                                                   ffmpeg_log_level="error", **options, **sound)
        self._frames.send(None)  # starts FFmpeg

    def append(self, picture: np.ndarray) -> None:
        if (picture.shape[1], picture.shape[0]) != self.size:
            raise ValueError(f"frame {picture.shape[1]}x{picture.shape[0]} in a {self.size[0]}x{self.size[1]} file")
        self._frames.send(np.ascontiguousarray(picture, np.uint8))

    def close(self) -> None:
        self._frames.close()  # waits for FFmpeg to finish the file


def check_timelapse(path: str, fps: float, what: str = "timelapse") -> None:
    """Before any work: the extension is known, the folder is writable, and FFmpeg can encode this
    format here (a two-frame file is written and removed)."""
    extension = _extension(path, what)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise NeuralStyleError(f"{what} folder {folder!r} does not exist: create it or pass another path")
    if not os.access(folder, os.W_OK):
        raise NeuralStyleError(f"{what} folder {folder!r} is not writable: pass another path")
    with tempfile.TemporaryDirectory() as scratch:
        probe = os.path.join(scratch, "probe" + extension)
        try:
            writer = frame_writer(probe, fps, 18, 16)
            for value in (0, 255):
                writer.append(np.full((16, 18, 3), value, np.uint8))
            writer.close()
        except NeuralStyleError:
            raise
        except Exception as error:  # FFmpeg without this encoder, a broken binary
            raise NeuralStyleError(f"cannot write {extension} files here ({str(error).splitlines()[0]}): "
                                   "use another format") from None


class Timelapse:
    """Receives steps (as `on_step`) and writes every `every`-th one as a frame of `path`, rendered by
    `render(step)` at the output's size; `finish(picture)` holds the final picture and completes the file."""

    def __init__(self, path: str, render: Callable[[Step], np.ndarray], every: int = 1, fps: float = 25.0) -> None:
        self.path = path
        self.render = render
        self.every = every
        self.fps = fps
        self.frames = 0
        self.seconds = 0.0  # spent rendering and handing frames over, for the cost measurement
        self._writer: Any = None

    def on_step(self, step: Step) -> None:
        if step.iteration % self.every == 0:
            self.append(self.render(step))

    def on_start(self, picture: np.ndarray) -> None:
        """The run's start picture (the AdaIN one) as the first frame."""
        self.append(picture)

    def append(self, picture: np.ndarray) -> None:
        import time

        started = time.perf_counter()
        if self._writer is None:
            self._writer = frame_writer(partial_path(self.path), self.fps, picture.shape[1], picture.shape[0])
        self._writer.append(picture)
        self.frames += 1
        self.seconds += time.perf_counter() - started

    def finish(self, picture: Optional[np.ndarray]) -> Optional[str]:
        """Hold `picture` (the final one) for HOLD_SECONDS, complete the file and give its path;
        None when no frame was written."""
        if picture is not None and self._writer is not None:
            for _ in range(max(1, round(HOLD_SECONDS * self.fps))):
                self.append(picture)
        return self.close()

    def close(self) -> Optional[str]:
        if self._writer is None:
            return None
        writer, self._writer = self._writer, None
        writer.close()
        os.replace(partial_path(self.path), self.path)
        return self.path


def read_frames(path: str) -> Tuple[List[np.ndarray], float]:
    """All frames of an animation or video as uint8 RGB, and its frame rate (for tests and strips)."""
    import imageio_ffmpeg

    frames = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24")
    meta = next(frames)
    width, height = meta["size"]
    return ([np.frombuffer(frame, np.uint8).reshape(height, width, 3).copy() for frame in frames],
            float(meta.get("fps") or 0.0))


__all__ = ["FORMATS", "FrameWriter", "GifWriter", "frame_writer", "HOLD_SECONDS", "Timelapse", "check_timelapse", "partial_path", "read_frames"]
