"""The timelapse: frames at the output size, streamed, the end held, a playable file after a stop."""

import os

import numpy as np
import pytest

from neural_style.watch.timelapse import HOLD_SECONDS, Timelapse, check_timelapse, read_frames

from tests.helpers import refused


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
    assert len(frames) == 1 + result.iterations + round(HOLD_SECONDS * 10)  # the AdaIN start, each step, the hold
    assert frames[0].shape[:2] == result.image.shape[:2]
    np.testing.assert_allclose(frames[-1].astype(float).mean(), result.image.astype(float).mean(), atol=6)


def test_an_unknown_timelapse_format_is_refused_before_any_work(small_images, tmp_path, capsys):
    content, style = small_images
    refused(capsys, [content, style, "-o", str(tmp_path / "o.png"), "--timelapse", str(tmp_path / "t.avi")],
            "unknown extension: use .gif, .mp4 or .webp", folder=str(tmp_path))
