"""Every command's bad input, from one table (neural_style/benchmarks/refusals.py, which also times them): exit
status 2, one line that says what is wrong, no traceback, and nothing written, before any work."""

import tempfile

import pytest

from neural_style.benchmarks.refusals import refusal_cases
from tests.helpers import refused

with tempfile.TemporaryDirectory() as _folder:
    NAMES = [case.name for case in refusal_cases(_folder)]


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_refused_in_one_line_before_any_work(name, tmp_path, capsys):
    case = next(case for case in refusal_cases(str(tmp_path)) if case.name == name)
    refused(capsys, case.argv, case.says, folder=case.output)


def _overwrite_cases(folder):
    """Command lines whose output (or one of its files) is one of their inputs, and the input that must survive."""
    import os
    import shutil

    from neural_style.samples import sample

    photo, painting = os.path.join(folder, "photo.jpg"), os.path.join(folder, "painting.jpg")
    shutil.copy(sample("chelsea.jpg"), photo)
    shutil.copy(sample("swirls.jpg"), painting)
    mask, snapshot = os.path.join(folder, "mask.png"), os.path.join(folder, "out_at_iteration_100.png")
    shutil.copy(sample("chelsea.jpg"), snapshot)
    from PIL import Image

    Image.new("L", Image.open(photo).size, 255).save(mask)
    link = os.path.join(folder, "link.jpg")
    os.symlink(photo, link)
    hard = os.path.join(folder, "hard.jpg")
    os.link(painting, hard)
    frames = os.path.join(folder, "frames")
    os.makedirs(frames)
    Image.open(photo).save(os.path.join(frames, "a.png"))
    out = os.path.join(folder, "out.png")
    return [
        ("output is the content", [photo, painting, "-o", photo], photo),
        ("output is the style", [photo, painting, "-o", painting], painting),
        ("output is the style by another name", [photo, painting, "-o", os.path.join(folder, ".", "painting.jpg")],
         painting),
        ("output is the content through a symbolic link", [link, painting, "-o", photo], photo),
        ("output is the style through a hard link", [photo, painting, "-o", hard], painting),
        ("output is a mask", [photo, painting, "--masks", mask, "-o", mask], mask),
        ("a snapshot is the --init picture", [photo, painting, "--init", snapshot, "-o", out, "--iterations", "100"],
         snapshot),
        ("video: the output is its folder of frames", ["video", frames, painting, "-o", frames],
         os.path.join(frames, "a.png")),
        ("sheet: the sheet is the content", ["sheet", photo, painting, "-o", photo], photo),
    ]


with tempfile.TemporaryDirectory() as _folder:
    OVERWRITES = [name for name, _, _ in _overwrite_cases(_folder)]


@pytest.mark.parametrize("name", OVERWRITES)
def test_no_output_may_overwrite_an_input(name, tmp_path, capsys):
    """Refused in one line before any work, compared by inode and resolved path, and the input is as it was."""
    argv, kept = next((argv, kept) for case, argv, kept in _overwrite_cases(str(tmp_path)) if case == name)
    before = open(kept, "rb").read()
    refused(capsys, argv, "it would be overwritten: choose another output path")
    assert open(kept, "rb").read() == before
