"""Files as every other program writes them: atomically, and with the mode the umask gives."""

import os
import stat
import sys

import pytest

from neural_style import files
from tests.helpers import FAST


@pytest.fixture(params=[0o022, 0o077, 0o027])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def modes(folder):
    return {os.path.relpath(os.path.join(root, name), folder): stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)
            for root, _, names in os.walk(folder) for name in names}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_every_file_a_run_a_batch_and_a_video_write_has_the_umasks_mode(umask, small_images, tmp_path):
    """Pictures, snapshots, logs, the timelapse, batch pictures and summaries, video frames (0644 under umask 022;
    they were 0600 whatever the umask: mkstemp's mode, kept by the rename)."""
    from neural_style import stylize, stylize_batch, stylize_video

    assert files.current_umask() == umask and files.file_mode() == 0o666 & ~umask
    content, style = small_images
    out = tmp_path / "out"
    out.mkdir()
    stylize(content, style, str(out / "still.png"), timelapse=str(out / "run.gif"),
            **dict(FAST, iterations=2, snapshot_every=1))
    stylize_batch([content], [style], str(out / "batch"), **dict(FAST, iterations=1))
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(2):
        from PIL import Image

        Image.open(content).save(frames / f"{index}.png")
    stylize_video(str(frames), style, str(out / "video"), **dict(FAST, iterations=1, frame_iterations=1))
    files.write_json(str(out / "summary.json"), {"a": 1})
    written = modes(out)
    assert {"still.png", "still_at_iteration_1.png", "still_log.csv", "run.gif", "batch/batch.csv",
            "video/frame_000001.png", "summary.json"} <= set(written)
    assert set(written.values()) == {0o666 & ~umask}, written


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "kept.txt"
    files.write_json(str(path), "old")

    def broken(temporary):
        with open(temporary, "w") as stream:
            stream.write("half")
        raise OSError("disk full (simulated)")

    with pytest.raises(OSError):
        files.write_atomically(str(path), broken)
    assert path.read_text() == '"old"' and os.listdir(tmp_path) == ["kept.txt"]
