"""Video: flow and warping, frames through the pipeline, resumed, the sound kept, bad input refused."""

import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from neural_style.commands.cli import main
from neural_style.errors import NeuralStyleError
from neural_style.video.optical_flow import consistency_mask, dense_flow, flicker, warp
from neural_style.watch.timelapse import FrameWriter, read_frames
from tests.helpers import IMAGES, photo

STYLE = os.path.join(IMAGES, "swirls.jpg")


def test_warping_by_a_known_flow_moves_the_picture():
    image = photo(64, 48).astype(np.float32)
    flow = np.zeros((48, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3, 2  # each pixel reads the one 3 right and 2 below
    warped = warp(image, flow)
    np.testing.assert_allclose(warped[:40, :55], image[2:42, 3:58], atol=1e-3)


def test_flow_of_a_pan_is_the_pan():
    scene = photo()
    previous, current = scene[40:160, 20:180], scene[40:160, 26:186]  # the camera moved 6 px right
    to_previous = dense_flow(current, previous)
    interior = to_previous[20:-20, 20:-20]
    assert abs(float(np.median(interior[..., 0])) - 6.0) < 0.5 and abs(float(np.median(interior[..., 1]))) < 0.5


def test_occlusion_mask_marks_what_came_into_view():
    # A 20 px square moves 10 px right over a still background: the band it uncovered was not visible.
    height, width = 60, 80
    to_current = np.zeros((height, width, 2), np.float32)
    to_current[20:40, 20:40, 0] = 10  # the square's pixels in the previous frame
    to_previous = np.zeros((height, width, 2), np.float32)
    to_previous[20:40, 30:50, 0] = -10  # the square's pixels in the current frame
    mask = consistency_mask(to_previous, to_current)
    assert mask[20:40, 21:29].max() == 0  # uncovered background
    assert mask[22:38, 32:48].min() == 1 and mask[:15].min() == 1  # the square, and far background


def test_flicker_is_zero_for_a_steady_picture_and_grows_with_noise():
    scene = photo()
    inputs = [scene[40:160, 20 + 3 * i:180 + 3 * i] for i in range(3)]
    assert flicker(inputs, inputs) < 3.0  # the input itself, moved by its own flow
    rng = np.random.default_rng(0)
    noisy = [np.clip(f.astype(int) + rng.integers(-40, 40, f.shape), 0, 255).astype(np.uint8) for f in inputs]
    assert flicker(noisy, inputs) > 10.0


@pytest.fixture()
def pan_clip(tmp_path):
    """Five frames of a camera panning 4 px a frame across a photo, at 10 fps."""
    scene = photo()
    path = str(tmp_path / "pan.mp4")
    writer = FrameWriter(path, 10, 96, 64)
    for i in range(5):
        writer.append(np.ascontiguousarray(scene[60:124, 40 + 4 * i:136 + 4 * i]))
    writer.close()
    return path


def test_video_round_trip_keeps_frames_rate_and_size_and_resumes(pan_clip, tmp_path, capsys):
    style = os.path.join(IMAGES, "swirls.jpg")
    output = str(tmp_path / "out.mp4")
    common = ["--size", "64", "--iterations", "4", "--frame-iterations", "2", "--tolerance", "0"]
    assert main(["video", pan_clip, style, "-o", output, *common, "--max-frames", "3"]) == 0
    frames, fps = read_frames(output)
    assert len(frames) == 3 and fps == pytest.approx(10) and frames[0].shape[:2] == (42, 64)
    folder = str(tmp_path / "out_frames")
    first = os.path.join(folder, "frame_000001.png")
    stamp = os.stat(first).st_mtime_ns
    capsys.readouterr()
    assert main(["video", pan_clip, style, "-o", output, *common, "--resume", "--json"]) == 0
    captured = capsys.readouterr()
    out = captured.err
    assert "resuming after frame 3" in out and "frame 4/5" in out and "frame 3/5" not in out
    events = [json.loads(line) for line in captured.out.splitlines()]  # --json: the frames painted, then the end
    assert [(event["event"], event.get("frame")) for event in events] == [("frame", 4), ("frame", 5), ("video_end", None)]
    assert events[-1]["output"] == output and events[-1]["frames"] == 5 and not events[-1]["stopped"]
    assert os.stat(first).st_mtime_ns == stamp  # finished frames are not redone
    frames, _ = read_frames(output)
    assert len(frames) == 5


def streams(path):
    """FFmpeg's description of each stream of a file: kind ('Video', 'Audio') -> its line."""
    import imageio_ffmpeg

    said = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True,
                          text=True).stderr
    return {line.split(": ")[1]: line for line in said.splitlines() if line.strip().startswith("Stream #")}


def test_an_encoded_video_carries_the_inputs_sound_in_step_with_the_pictures(tmp_path):
    import imageio_ffmpeg

    from neural_style.video.stylize import FRAME_PATTERN, VideoOptions, encode, read_input

    clip = str(tmp_path / "with_sound.mp4")  # 10 frames at 10 fps and a second of a 440 Hz tone
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip], check=True)
    frames, fps, has_audio = read_input(clip, VideoOptions())
    assert has_audio and fps == pytest.approx(10) and len(frames) == 10
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames, 1):
        Image.fromarray(frame).save(folder / FRAME_PATTERN.format(index))
    output = str(tmp_path / "out.mp4")
    encode(str(folder), len(frames), output, fps, audio_from=clip)
    found = streams(output)
    assert set(found) == {"Video", "Audio"}
    # The pictures start with the sound: a fragmented MP4 started them two frames (x264's delay) later.
    assert ", start " not in found["Video"], found["Video"]
    assert len(read_frames(output)[0]) == 10


@pytest.mark.parametrize("make_input, output_name, flags, message", [
    (lambda d: d / "notes.txt", "o.mp4", [], "cannot be read"),
    (None, "o.mp4", ["--start", "100"], "has no frames after --start 100"),
    (None, "missing/o.mp4", [], "does not exist"),
    (None, "o.avi", [], "unknown extension"),
    (None, "o.mp4", ["--temporal-weight", "-1"], "--temporal-weight must be >= 0"),
    (None, "o.mp4", ["--size", "4096", "--tile-size", "0"], "needs about"),  # too large for memory, refused at once
])
def test_bad_video_input_gets_one_line_and_writes_nothing(pan_clip, tmp_path, capsys, make_input, output_name,
                                                          flags, message):
    source = pan_clip
    if make_input is not None:
        path = make_input(tmp_path)
        path.write_text("not a video")
        source = str(path)
    before = set(os.listdir(tmp_path))
    status = main(["video", source, os.path.join(IMAGES, "swirls.jpg"), "-o", str(tmp_path / output_name),
                   "--size", "64", *flags])  # a later --size wins
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert set(os.listdir(tmp_path)) == before


def test_api_refuses_a_missing_input():
    from neural_style.video.stylize import stylize_video

    with pytest.raises(NeuralStyleError, match="does not exist"):
        stylize_video("no-such-clip.mp4", os.path.join(IMAGES, "swirls.jpg"), "out.mp4")


# --- every frame a run of the one pipeline ---------------------------------------------------------

def test_every_frame_is_planned_like_a_still_and_reports_its_terms(pan_clip, tmp_path, monkeypatch):
    """--tile-size N tiles every frame (it tiled the first only: later frames built a whole-image objective),
    later frames carry the temporal term, and each frame's last iteration is kept with its terms, whose sum
    is the total."""
    from neural_style.run import pipeline
    from neural_style.video.stylize import VideoOptions, stylize_video

    planned = []
    run = pipeline.run

    def spy(config, plan, *args, **kwargs):
        planned.append((plan.scales[-1].memory.tile, [term.name for term in kwargs.get("beside_terms", ())]))
        return run(config, plan, *args, **kwargs)

    monkeypatch.setattr(pipeline, "run", spy)
    result = stylize_video(pan_clip, STYLE, str(tmp_path / "frames"), video=VideoOptions(max_frames=3,
                           frame_iterations=2), size=64, iterations=3, tile_size=32, quiet=True, xla=False)
    assert planned == [(32, []), (32, ["temporal"]), (32, ["temporal"])]
    last = result.final_steps[-1]
    assert list(last.terms) == ["content", "style", "tv", "temporal"] and last.temporal > 0
    assert last.total == pytest.approx(sum(last.terms.values()), rel=1e-5)


@pytest.mark.parametrize("through", ["api", "command"])
def test_init_is_honoured_on_the_first_frame(pan_clip, tmp_path, through):
    """The first frame starts from `init` as a still does, from the API and from `video --init` (the command took
    --init as the later frames' start and refused anything but 'content'; that is --frame-start now)."""
    from neural_style.video.stylize import VideoOptions, stylize_video

    def first_frame(init):
        folder = tmp_path / init
        if through == "api":
            stylize_video(pan_clip, STYLE, str(folder), video=VideoOptions(max_frames=1), size=64, iterations=1,
                          scales=1, init=init, seed=3, quiet=True, xla=False)
        else:
            assert main(["video", pan_clip, STYLE, "-o", str(folder), "--max-frames", "1", "--size", "64",
                         "--iterations", "1", "--scales", "1", "--init", init, "--seed", "3", "--quiet"]) == 0
        return np.asarray(Image.open(folder / "frame_000001.png"), np.float64)

    frame = np.asarray(Image.fromarray(photo()[60:124, 40:136]).resize((64, 43)), np.float64)
    from_content, from_noise = first_frame("content"), first_frame("random")
    assert from_content.shape == from_noise.shape
    assert np.abs(from_noise - frame).mean() > 2 * np.abs(from_content - frame).mean()


def test_video_takes_the_common_flags(pan_clip, tmp_path, capsys):
    """--quiet (the video command had none) and --seed: two seeded runs give the same frames, and say nothing."""
    frames = []
    for name in ("a", "b"):
        folder = tmp_path / name
        assert main(["video", pan_clip, STYLE, "-o", str(folder), "--size", "48", "--iterations", "2",
                     "--frame-iterations", "1", "--max-frames", "2", "--seed", "4", "--quiet"]) == 0
        frames.append([(folder / f"frame_00000{i}.png").read_bytes() for i in (1, 2)])
    assert frames[0] == frames[1]
    assert capsys.readouterr().err == ""


def test_method_adain_paints_every_frame_in_one_pass(pan_clip, tmp_path, capsys):
    from neural_style import stylize

    folder = tmp_path / "adain"
    assert main(["video", pan_clip, STYLE, "-o", str(folder), "--size", "64", "--method", "adain",
                 "--max-frames", "2"]) == 0
    err = capsys.readouterr().err
    assert err.count("one AdaIN pass") == 2 and "iterations" not in err.split("\n", 1)[1]
    first = np.asarray(Image.open(folder / "frame_000001.png"), np.float64)
    import imageio.v3 as iio

    decoded = np.asarray(iio.imread(pan_clip, index=0))  # the frame as the video holds it (the codec's losses)
    still = stylize(decoded, STYLE, method="adain", size=64, quiet=True).image
    assert np.abs(first - still).mean() < 1.0  # the frame is the still's picture
