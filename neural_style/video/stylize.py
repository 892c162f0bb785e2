"""Video style transfer with temporal consistency (Ruder, Dosovitskiy & Brox 2016), frame by frame.

frames in (imageio-ffmpeg, or a folder of images) -> every frame a run of the one pipeline (pipeline.py):
the first a normal coarse-to-fine run from --init; each later one starts from the previous stylised frame warped by
the optical flow (optical_flow.py) and is pulled towards it where the flow is trustworthy by a temporal term beside
the objective (objective/temporal.py) -> every finished frame rendered (render.py) and saved as a PNG in a work
folder beside the output (so a run resumes) -> the video encoded from them (timelapse.FrameWriter), audio copied
where it can be. With --method adain every frame is painted in one pass.
"""

from __future__ import annotations

import glob
import math
import os
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.run import pipeline
from neural_style.config import StyleConfig, WatchOptions
from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import preprocess
from neural_style.backends.hardware import Hardware, seeded
from neural_style.plan.memory import available_for
from neural_style.plan.run_plan import plan_run
from neural_style.plan.sizes import scaled_size
from neural_style.files import check_inputs_kept
from neural_style.run.render import render, run_inputs
from neural_style.run.request import resolve_request
from neural_style.run.sources import SourceImages, load_sources, load_styles
from neural_style.step import Step
from neural_style.video.optical_flow import consistency_mask, dense_flow, warp
from neural_style.watch.events import EventWriter
from neural_style.watch.record import Messages, Progress, describe_losses, format_duration
from neural_style.watch.timelapse import check_timelapse, frame_writer, partial_path

FRAME_PATTERN = "frame_{:06d}.png"
VIDEO_EXTENSIONS = (".mp4", ".gif", ".webp")
DEFAULT_FPS = 25.0  # for a folder of images, which has no frame rate of its own
FLOWS = ("dis", "farneback")  # OpenCV's DIS optical flow, or Farneback's
# Where each frame after the first starts: the previous stylised frame, warped ("previous"), or its own input frame
# as --init says ("content": with --temporal-weight 0, independent frames).
FRAME_STARTS = ("previous", "content")


@dataclass(frozen=True)
class VideoOptions:
    """What a video run adds to the image options (`StyleConfig`); the video command's flags are these fields."""

    temporal_weight: float = 0.05  # chosen by measurement (docs/video.md)
    frame_iterations: int = 100  # budget of frames that start from the previous stylised frame
    max_frames: Optional[int] = None
    start: float = 0.0  # seconds into the input
    every_nth: int = 1
    resume: bool = False
    flow: str = "dis"
    frame_start: str = "previous"


VIDEO_FIELDS = tuple(option.name for option in fields(VideoOptions))


@dataclass
class VideoResult:
    """What a video run produced."""

    output: Optional[str]  # the encoded video (None for a folder output or an interrupted run)
    frames_folder: str
    frames: int  # frames finished
    total_frames: int
    fps: float
    seconds_per_frame: List[float] = field(default_factory=list)  # of the frames stylised in this run
    final_steps: List[Step] = field(default_factory=list)  # each frame's last iteration, with its terms
    stopped: bool = False


# --- frames in -----------------------------------------------------------------------------------

def _is_folder_output(path: str) -> bool:
    return os.path.splitext(path)[1] == "" or path.endswith(os.sep)


def _folder_frames(path: str, options: VideoOptions) -> List[str]:
    """A folder's image files that are frames after --start, --every-nth and --max-frames, in name order."""
    files = sorted(f for f in glob.glob(os.path.join(path, "*"))
                   if os.path.splitext(f)[1].lower() in Image.registered_extensions())
    first = int(round(options.start * DEFAULT_FPS))
    return files[first::options.every_nth][:options.max_frames]


def _no_frames(path: str, options: VideoOptions) -> NeuralStyleError:
    return NeuralStyleError(f"input video {path!r} has no frames after --start {options.start:g}: "
                            "check the file, or start earlier")


def probe_input(path: str, options: VideoOptions) -> Tuple[Tuple[int, int], float, bool]:
    """The input's frame size (width, height), frame rate (divided by --every-nth) and whether it has sound, read
    from its header (a video's) or its first frame's (a folder's) before any frame is decoded: a video too large for
    memory is refused from this, before any work."""
    if not os.path.exists(path):
        raise NeuralStyleError(f"input video {path!r} does not exist: check the path")
    if os.path.isdir(path):
        wanted = _folder_frames(path, options)
        if not wanted:
            raise _no_frames(path, options)
        size = images.image_size(wanted[0]) or images.load_image(wanted[0], "frame").size  # a broken frame says why
        return size, DEFAULT_FPS / options.every_nth, False
    reader, meta = _open_video(path)
    reader.close()
    return tuple(meta["size"]), float(meta.get("fps") or DEFAULT_FPS) / options.every_nth, bool(meta.get("audio_codec"))


def read_input(path: str, options: VideoOptions) -> Tuple[List[np.ndarray], float, bool]:
    """The input's frames (uint8 RGB) after --start, --every-nth and --max-frames, its frame rate
    (divided by --every-nth), and whether it has sound."""
    if not os.path.exists(path):
        raise NeuralStyleError(f"input video {path!r} does not exist: check the path")
    if os.path.isdir(path):
        fps, has_audio = DEFAULT_FPS, False
        frames = [images.to_array(images.load_image(f, "frame")) for f in _folder_frames(path, options)]
    else:
        frames, fps, has_audio = _read_video_file(path, options)
    if not frames:
        raise _no_frames(path, options)
    return frames, fps / options.every_nth, has_audio


def _open_video(path: str) -> Tuple[Any, Dict[str, Any]]:
    """imageio-ffmpeg's frame reader of a video file, and the header it read first."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise NeuralStyleError("video needs imageio-ffmpeg: pip install -e '.[video]'") from None
    try:
        reader = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24")
        meta = reader.__next__()
    except (RuntimeError, OSError, StopIteration) as error:
        raise NeuralStyleError(f"input video {path!r} cannot be read ({str(error).strip().splitlines()[-1][:120]}): "
                               "pass an MP4, GIF, WebM or a folder of images") from None
    return reader, meta


def _read_video_file(path: str, options: VideoOptions) -> Tuple[List[np.ndarray], float, bool]:
    reader, meta = _open_video(path)
    width, height = meta["size"]
    fps = float(meta.get("fps") or DEFAULT_FPS)
    first = int(round(options.start * fps))
    frames: List[np.ndarray] = []
    try:
        for index, data in enumerate(reader):
            if options.max_frames is not None and len(frames) >= options.max_frames:
                break
            if index >= first and (index - first) % options.every_nth == 0:
                frames.append(np.frombuffer(data, np.uint8).reshape(height, width, 3).copy())
    finally:
        reader.close()
    return frames, fps, bool(meta.get("audio_codec"))


def resize_frames(frames: Sequence[np.ndarray], size: int) -> List[np.ndarray]:
    """Frames with their longer side `size` (Lanczos, as images are)."""
    width, height = scaled_size(frames[0].shape[1], frames[0].shape[0], size)
    return [images.to_array(images.resize_to(Image.fromarray(f), (width, height))) for f in frames]


# --- checks before any work ----------------------------------------------------------------------

def check_output(path: str, fps: float) -> None:
    """The output's kind (a video file or a folder) and that it can be written, before any work."""
    if _is_folder_output(path):
        parent = os.path.dirname(os.path.abspath(path.rstrip(os.sep)))
        if not os.access(parent, os.W_OK):
            raise NeuralStyleError(f"output folder {path!r} cannot be created in {parent!r}: choose another path")
        return
    extension = os.path.splitext(path)[1].lower()
    if extension not in VIDEO_EXTENSIONS:
        raise NeuralStyleError(f"video output {path!r} has an unknown extension: use .mp4, .gif, .webp "
                               "or a folder name")
    check_timelapse(path, fps, "video output")


def check_video_options(video: VideoOptions) -> None:
    """One-line errors for video options that cannot work."""
    checks = [("--temporal-weight", video.temporal_weight >= 0 and math.isfinite(video.temporal_weight), ">= 0"),
              ("--frame-iterations", isinstance(video.frame_iterations, int) and video.frame_iterations >= 1, "an integer >= 1"),
              ("--max-frames", video.max_frames is None or video.max_frames >= 1, "an integer >= 1"),
              ("--start", video.start >= 0, ">= 0 (seconds)"),
              ("--every-nth", isinstance(video.every_nth, int) and video.every_nth >= 1, "an integer >= 1"),
              ("--flow", video.flow in FLOWS, " or ".join(FLOWS)),
              ("--frame-start", video.frame_start in FRAME_STARTS, " or ".join(FRAME_STARTS))]
    for flag, ok, wanted in checks:
        if not ok:
            raise NeuralStyleError(f"{flag} must be {wanted}: pass {flag} with such a value")


def frames_folder(output: str) -> str:
    """Where finished frames are kept: the output folder itself, or `OUTPUT-STEM_frames/` beside a file."""
    return output.rstrip(os.sep) if _is_folder_output(output) else os.path.splitext(output)[0] + "_frames"


# --- one frame ---------------------------------------------------------------------------------

@dataclass
class FrameContext:
    """What every frame shares: what was asked, the resolved hardware, the session (network and traced
    objectives), the style images and masks (`sources`, over the first frame), the stop flag, and the memory every
    frame is planned against (measured once, so a frame is not refused half-way for what another program took)."""

    config: StyleConfig
    options: VideoOptions
    hardware: Hardware
    session: pipeline.Session
    sources: SourceImages
    should_stop: Callable[[], bool]
    available_memory: Optional[float] = None
    continues: bool = True  # whether a frame starts from the previous one (not with --frame-start content, nor
    # where every frame is painted in one pass)

    def frame_config(self, continuing: bool) -> StyleConfig:
        """A frame from scratch runs the configuration as asked; one that continues from the previous frame
        runs --frame-iterations at one scale (its start already has the final size's detail)."""
        if not continuing:
            return self.config
        return self.config.with_options(iterations=self.options.frame_iterations, scales=1)


def stylize_frame(context: FrameContext, frame: np.ndarray, start: Optional[np.ndarray] = None,
                  temporal: Any = None, on_step: Optional[Callable[[Step], None]] = None
                  ) -> Tuple[np.ndarray, Optional[Step]]:
    """One frame through the pipeline: from `config.init` (a frame from scratch), or from `start` (network image)
    with the `temporal` term (objective/temporal.TemporalTerm) beside the objective. Returns the frame as H x W x 3 float RGB (0-255) and the last
    iteration's record (None for a frame painted in one pass). `on_step` follows its iterations (the frame's line on
    a terminal)."""
    config = context.frame_config(start is not None)
    sources = context.sources.with_content(Image.fromarray(frame))
    plan = plan_run(config, context.hardware, sources.content.size, sources.style_sizes, context.available_memory)
    steps: List[Step] = []

    def record(step: Step) -> None:
        steps.append(step)
        if on_step is not None:
            on_step(step)

    ran = pipeline.run(config, plan, context.session, sources,
                       pipeline.Listeners(on_step=record, should_stop=context.should_stop), start=start,
                       beside_terms=[temporal] if temporal else ())
    outcome = ran.outcome
    if outcome.reason == "stopped":
        raise StopIteration
    if outcome.error:
        raise NeuralStyleError(f"a frame failed: {outcome.error}")
    return ran.pixels(), (steps[-1] if steps else None)


def temporal_start(previous_output: np.ndarray, previous_frame: np.ndarray, frame: np.ndarray, method: str
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, warped, mask) for a frame: the previous stylised frame (network image) warped by the
    flow from this frame to the previous one; where that flow is not trustworthy, the start is this
    frame's own content."""
    to_previous = dense_flow(frame, previous_frame, method)
    to_current = dense_flow(previous_frame, frame, method)
    mask = consistency_mask(to_previous, to_current)
    warped = warp(previous_output[0], to_previous)[None]
    start = mask[None, :, :, None] * warped + (1 - mask[None, :, :, None]) * preprocess(frame)
    return start, warped, mask


# --- the run -------------------------------------------------------------------------------------

def stylize_video(input: str, style: Any, output: str, *, config: Optional[StyleConfig] = None,
                  video: Optional[VideoOptions] = None, watch: Optional[WatchOptions] = None,
                  stream: Optional[TextIO] = None, should_stop: Optional[Callable[[], bool]] = None,
                  **options: Any) -> VideoResult:
    """Stylise every frame of `input` (a video file or a folder of images) in the style of `style`,
    writing `output` (.mp4, .gif, .webp, or a folder of PNG frames). Image options are `StyleConfig`
    fields (`size=256`, `init=...` for the first frame ...), `WatchOptions` fields (`quiet`) and `VideoOptions` fields
    (`frame_iterations=50`, ...; or `video=`). Every frame is a run of the one pipeline (pipeline.py). Finished frames are kept in
    `frames_folder(output)`; with `video.resume`, frames already there are not redone. Everything is checked before
    anything is written: the options, the input, the output, and that a frame fits in memory."""
    video = replace(video or VideoOptions(), **{name: options.pop(name) for name in VIDEO_FIELDS if name in options})
    should_stop = should_stop or (lambda: False)
    check_video_options(video)
    frame_size, fps, has_audio = probe_input(input, video)
    request = resolve_request(options, config.with_options(output=None) if config else None, watch,
                              content=input, styles=style)  # every frame is the content, in turn
    config = request.config
    check_output(output, fps)
    check_inputs_kept([("output", output), ("frames folder", frames_folder(output))],
                      [("video", input), *run_inputs(config)[1:]])
    styles = load_styles(config)
    hardware = request.hardware
    available = available_for(hardware, budget=config.memory_budget_bytes())
    # Every frame has the first one's size: planning it refuses a video too large for memory before any frame is
    # read or resized.
    plan = plan_run(config, hardware, frame_size, [style.size for style in styles], available)
    frames, fps, has_audio = read_input(input, video)
    frames = resize_frames(frames, config.size)
    sources = load_sources(config, content=Image.fromarray(frames[0]), styles=styles)
    folder = frames_folder(output)
    os.makedirs(folder, exist_ok=True)
    done = _finished_frames(folder, len(frames)) if video.resume else 0
    messages = Messages(stream, request.watch.quiet, EventWriter() if request.watch.json else None)
    messages.message(f"{len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]} at {fps:g} fps; "
                     f"{hardware.describe()}" + (f"; resuming after frame {done}" if done else ""))
    if hardware.warning:
        messages.message(hardware.warning)
    result = VideoResult(None, folder, done, len(frames), fps)
    with seeded(config.seed):
        context = FrameContext(config, video, hardware, pipeline.Session(config, hardware), sources, should_stop,
                               available, continues=video.frame_start == "previous" and bool(plan.scales))
        _stylize_frames(context, frames, done, folder, result, messages)
    if result.stopped:
        messages.message(f"interrupted after frame {result.frames} of {len(frames)}; finished frames are in {folder}: "
                         "rerun with --resume to go on")
        messages.event("video_end", frames=result.frames, total_frames=len(frames), stopped=True, output=None,
                       folder=folder)
        return result
    if not _is_folder_output(output):
        audio = input if has_audio and video.start == 0 and video.every_nth == 1 and video.max_frames is None else None
        encode(folder, len(frames), output, fps, audio)
        result.output = output
        messages.message(f"wrote {output}" + (" with the input's sound" if audio else ""))
    messages.event("video_end", frames=result.frames, total_frames=len(frames), stopped=False, output=result.output,
                   folder=folder)
    return result


def _finished_frames(folder: str, total: int) -> int:
    """How many frames, from the first, are already in `folder` (each written atomically)."""
    count = 0
    while count < total and os.path.exists(os.path.join(folder, FRAME_PATTERN.format(count + 1))):
        count += 1
    return count


def _stylize_frames(context: FrameContext, frames: List[np.ndarray], done: int, folder: str, result: VideoResult,
                    messages: Messages) -> None:
    from neural_style.objective.temporal import TemporalTerm  # Keras's: imported once frames are painted

    video = context.options
    previous_output = (preprocess(images.to_array(images.load_image(os.path.join(folder, FRAME_PATTERN.format(done)))))
                       if done else None)
    for index in range(done, len(frames)):
        started = time.perf_counter()
        continuing = previous_output is not None and context.continues
        # On a terminal, the frame's iterations on one line that goes when the frame is done; elsewhere a line a frame.
        line = Progress(context.frame_config(continuing).iterations, stream=messages.stream, quiet=messages.quiet,
                        transient=True)
        line.scale = f"frame {index + 1}/{len(frames)}"
        on_step = line.update if line.interactive else None
        try:
            if not continuing:
                pixels, last = stylize_frame(context, frames[index], on_step=on_step)
            else:
                start, warped, mask = temporal_start(previous_output, frames[index - 1], frames[index], video.flow)
                temporal = TemporalTerm(weight=video.temporal_weight, warped=warped, mask=mask)
                pixels, last = stylize_frame(context, frames[index], start, temporal, on_step)
        except StopIteration:
            result.stopped = True
            return
        finally:
            line.close()
        picture = render(context.config, pixels, frames[index])
        path = os.path.join(folder, FRAME_PATTERN.format(index + 1))
        images.save_image(path, picture)
        previous_output = preprocess(picture)  # as saved: a resumed run continues from exactly this
        seconds = time.perf_counter() - started
        result.frames = index + 1
        result.seconds_per_frame.append(seconds)
        if last is not None:
            result.final_steps.append(last)
        later = result.seconds_per_frame[1:] or result.seconds_per_frame
        left = (len(frames) - index - 1) * float(np.median(later))
        messages.event("frame", frame=index + 1, frames=len(frames), seconds=seconds, path=path)
        messages.message(f"frame {index + 1}/{len(frames)}: "
            + (f"{last.iteration} iterations, {describe_losses(last)}, " if last else "one AdaIN pass, ")
            + f"{seconds:.1f} s, about {format_duration(left)} left")


def encode(folder: str, count: int, output: str, fps: float, audio_from: Optional[str] = None) -> None:
    """The video `output` from the first `count` frames in `folder`, read one at a time, written under a
    temporary name and renamed when complete; sound copied from `audio_from` where given."""
    first = images.to_array(images.load_image(os.path.join(folder, FRAME_PATTERN.format(1))))
    writer = frame_writer(partial_path(output), fps, first.shape[1], first.shape[0], audio_from=audio_from,
                          playable_while_written=False)  # the frames are saved: a cut encode is redone
    try:
        for index in range(1, count + 1):
            writer.append(first if index == 1 else
                          images.to_array(images.load_image(os.path.join(folder, FRAME_PATTERN.format(index)))))
    finally:
        writer.close()
    os.replace(partial_path(output), output)


__all__ = ["FLOWS", "FRAME_STARTS", "VIDEO_FIELDS", "VideoOptions", "VideoResult", "check_output", "encode",
           "frames_folder", "probe_input", "read_input", "stylize_video", "temporal_start"]
