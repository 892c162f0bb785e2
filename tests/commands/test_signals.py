"""SIGINT and SIGTERM during a video, a batch (here and on Ray), a sheet and the studio: what is finished is kept, the
exit status says which signal, and running the same command again goes on from there."""

import csv
import os
import signal

import pytest
from PIL import Image

from tests.helpers import IMAGES, command, needs, wait_until

STYLE = os.path.join(IMAGES, "swirls.jpg")
TINY = ["--size", "48", "--init", "content", "--no-xla", "--quiet"]


def _photos(folder, count, name="frame"):
    folder.mkdir(exist_ok=True)
    for index in range(count):
        Image.open(os.path.join(IMAGES, "chelsea.jpg")).resize((96, 64)).save(folder / f"{name}_{index}.png")
    return folder


def _interrupt(process, signum):
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err
    return err


def test_a_video_interrupted_keeps_its_frames_and_resumes(tmp_path):
    frames = _photos(tmp_path / "clip", 4)
    output = tmp_path / "styled"
    argv = ["video", str(frames), STYLE, "-o", str(output), "--iterations", "30", "--frame-iterations", "30",
            *TINY]
    process = command(*argv)
    wait_until(lambda: (output / "frame_000001.png").exists(), process)
    _interrupt(process, signal.SIGTERM)
    kept = sorted(os.listdir(output))
    assert 1 <= len(kept) < 4
    resumed = command(*argv, "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert sorted(os.listdir(output)) == [f"frame_00000{i}.png" for i in range(1, 5)]


@pytest.mark.parametrize("where", [[], ["--workers", "2"],
                                   pytest.param(["--ray", "local"], marks=needs("ray", "cluster"))])
def test_a_batch_interrupted_keeps_its_pictures_and_a_rerun_does_the_rest(tmp_path, where):
    photos = _photos(tmp_path / "photos", 4, "photo")
    outdir = tmp_path / "out"
    argv = ["batch", "-o", str(outdir), "--contents", str(photos / "*.png"), "--styles", STYLE, "--iterations", "100",
            "--tolerance", "0", *TINY, *where]
    process = command(*argv)
    wait_until(lambda: any(name.endswith(".png") for name in os.listdir(outdir)) if outdir.exists() else False,
               process, seconds=300)
    _interrupt(process, signal.SIGINT)
    done = {name for name in os.listdir(outdir) if name.endswith(".png")}
    assert 1 <= len(done) < 4
    rerun = command(*argv)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    with open(outdir / "batch.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["status"] for row in rows) == sorted(["skipped"] * len(done) + ["done"] * (4 - len(done)))


def test_a_sheet_interrupted_keeps_its_cells_and_goes_on(tmp_path):
    output = tmp_path / "sheet.png"
    argv = ["sheet", os.path.join(IMAGES, "chelsea.jpg"), STYLE, "-o", str(output), "--style-weight", "1e4,1e5,1e6",
            "--iterations", "40", *TINY[:-1]]
    process = command(*argv)
    cells = tmp_path / "sheet_cells"
    wait_until(lambda: cells.exists() and any(name.endswith(".png") for name in os.listdir(cells)), process)
    _interrupt(process, signal.SIGTERM)
    kept = len(os.listdir(cells))
    assert 1 <= kept < 3 and not output.exists()
    again = command(*argv)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert out.count("kept from") == kept and output.exists()


def test_the_studio_closes_on_sigterm_keeping_its_gallery(tmp_path):
    """SIGTERM (a service manager's stop) closes the studio as Ctrl-C does: its gallery, written picture by picture,
    stays as it is."""
    gallery = tmp_path / "kept"
    gallery.mkdir()
    (gallery / "0001-photo-painting.png").write_bytes(open(os.path.join(IMAGES, "chelsea.jpg"), "rb").read())
    process = command("studio", "--port", "0", "--gallery", str(gallery), cwd=tmp_path)
    line = process.stdout.readline()
    assert line.startswith("studio: http://127.0.0.1:")
    _interrupt(process, signal.SIGTERM)
    assert os.listdir(gallery) == ["0001-photo-painting.png"]
