"""Timelapse and video: animations written as the run goes, flow and warping, frames resumed, bad input."""

import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES
from neural_style.commands.cli import main
from neural_style.errors import NeuralStyleError
from neural_style.video.optical_flow import consistency_mask, dense_flow, flicker, warp
from neural_style.watch.timelapse import HOLD_SECONDS, FrameWriter, Timelapse, check_timelapse, read_frames


def photo(width=300, height=200):
    return np.asarray(Image.open(os.path.join(IMAGES, "coffee.jpg")).convert("RGB").resize((width, height)))


@pytest.mark.parametrize("extension", [".gif", ".mp4", ".webp"])
def test_timelapse_frames_have_the_output_size_and_end_held(tmp_path, extension):
    path = str(tmp_path / ("run" + extension))
    check_timelapse(path, 10)
    timelapse = Timelapse(path, render=lambda step: step, every=1, fps=10)
    for value in range(0, 240, 20):  # 12 frames
        timelapse.append(np.full((48, 64, 3), value, np.uint8))
    assert timelapse.finish(np.full((48, 64, 3), 255, np.uint8)) == path
    frames, _ = read_frames(path)
    assert len(frames) == 12 + round(HOLD_SECONDS * 10)
    assert frames[0].shape[:2] == (48, 64)
    assert frames[-1].mean() > 240 and frames[0].mean() < 15  # the final picture held last
    assert not os.path.exists(str(tmp_path / ("run.partial" + extension)))


def current_rss():
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_timelapse_streams_frames_instead_of_holding_them(tmp_path):
    timelapse = Timelapse(str(tmp_path / "long.mp4"), render=lambda step: step, fps=25)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    timelapse.append(frame)
    before = current_rss()
    for _ in range(150):  # 118 MB of frames if they were kept
        timelapse.append(frame)
    assert current_rss() - before < 40e6
    timelapse.close()


def test_a_run_with_a_timelapse_stopped_midway_leaves_a_playable_file(small_images, tmp_path):
    from neural_style import stylize

    content, style = small_images
    path = str(tmp_path / "run.gif")
    calls = []

    def stop_after_four_evaluations():
        calls.append(1)
        return len(calls) > 4

    result = stylize(content, style, str(tmp_path / "out.png"), size=64, iterations=20, scales=1,
                     timelapse=path, timelapse_every=1, timelapse_fps=10, quiet=True,
                     should_stop=stop_after_four_evaluations)
    assert result.stop_reason == "stopped" and result.timelapse == path
    frames, _ = read_frames(path)
    assert len(frames) == result.iterations + round(HOLD_SECONDS * 10)
    assert frames[0].shape[:2] == result.image.shape[:2]
    np.testing.assert_allclose(frames[-1].astype(float).mean(), result.image.astype(float).mean(), atol=6)


def test_an_unknown_timelapse_format_is_refused_before_any_work(small_images, tmp_path, capsys):
    content, style = small_images
    status = main([content, style, "-o", str(tmp_path / "o.png"), "--timelapse", str(tmp_path / "t.avi")])
    err = capsys.readouterr().err
    assert status == 2 and "unknown extension: use .gif, .mp4 or .webp" in err
    assert sorted(os.listdir(tmp_path)) == ["content.png", "style.png"]


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


def test_temporal_loss_gradient_matches_finite_differences():
    import tensorflow as tf

    from neural_style.objective.temporal import TemporalObjective

    class Zero:
        targets = None
        uses_xla = False

        def loss_and_gradient(self, image):
            return tf.constant(0.0), tf.zeros(3), tf.zeros_like(image)

    rng = np.random.default_rng(0)
    warped = rng.normal(0, 50, (1, 6, 5, 3)).astype(np.float32)
    mask = (rng.uniform(size=(6, 5)) > 0.3).astype(np.float32)
    objective = TemporalObjective(Zero(), warped, mask, weight=0.5)
    x = rng.normal(0, 50, (1, 6, 5, 3)).astype(np.float32)
    total, _, gradient = objective.loss_and_gradient(tf.constant(x))
    assert float(total) == pytest.approx(0.5 * np.mean(mask[None, :, :, None] * (x - warped) ** 2), rel=1e-5)
    step = np.zeros_like(x)
    step[0, 2, 3, 1] = 0.01
    numeric = (float(objective.loss_and_gradient(tf.constant(x + step))[0])
               - float(objective.loss_and_gradient(tf.constant(x - step))[0])) / 0.02
    assert gradient.numpy()[0, 2, 3, 1] == pytest.approx(numeric, rel=1e-2, abs=1e-6)


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
    assert main(["video", pan_clip, style, "-o", output, *common, "--resume"]) == 0
    out = capsys.readouterr().err
    assert "resuming after frame 3" in out and "frame 4/5" in out and "frame 3/5" not in out
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
    (None, "o.mp4", ["--init", "random"], "--init must be content"),
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
                   "--size", "64", *flags])
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert set(os.listdir(tmp_path)) == before


def test_api_refuses_a_missing_input():
    from neural_style.video.stylize import stylize_video

    with pytest.raises(NeuralStyleError, match="does not exist"):
        stylize_video("no-such-clip.mp4", os.path.join(IMAGES, "swirls.jpg"), "out.mp4")
