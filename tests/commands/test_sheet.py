"""The contact sheet: a labelled grid over styles and swept options, resumed from its kept cells, and its one-line
refusals."""

import os

import numpy as np
import pytest
from PIL import Image

from neural_style.commands.cli import main
from neural_style.sheet import GAP, LABEL_HEIGHT, ROW_LABEL_WIDTH
from tests.helpers import refused

TINY = ["--size", "48", "--iterations", "10", "--init", "content", "--seed", "1", "--no-xla"]


def test_a_sheet_has_a_cell_per_style_and_value_and_resumes_from_its_cells(small_images, tmp_path, capsys):
    content, style = small_images
    second = tmp_path / "second.png"
    Image.fromarray(np.asarray(Image.open(style))[:, ::-1]).save(second)
    output = tmp_path / "sheet.png"
    args = [content, style, str(second), "-o", str(output), "--style-weight", "1e2,1e6", *TINY]
    assert main(["sheet", *args]) == 0
    said = capsys.readouterr().out
    assert "4 cells (2 rows x 2 columns)" in said and said.count("loss") == 4
    sheet = np.asarray(Image.open(output))
    cell_width, cell_height = 48, 32  # the 128x85 photo at 48 px
    assert sheet.shape == (LABEL_HEIGHT + 2 * (cell_height + GAP), ROW_LABEL_WIDTH + 2 * (cell_width + GAP), 3)
    cells = sorted(os.listdir(tmp_path / "sheet_cells"))
    assert len(cells) == 4
    # Each cell is its own run: the stronger style weight paints another picture.
    top = LABEL_HEIGHT
    left, right = (sheet[top:top + cell_height, ROW_LABEL_WIDTH + c * (cell_width + GAP):][:, :cell_width].astype(float)
                   for c in (0, 1))
    assert np.abs(left - right).mean() > 2
    # Run again with one more value: only the new column is painted.
    assert main(["sheet", *args[:5], "--style-weight", "1e2,1e6,1e4", *TINY]) == 0
    said = capsys.readouterr().out
    assert said.count("kept from") == 4 and said.count("loss") == 2
    assert np.asarray(Image.open(output)).shape[1] == ROW_LABEL_WIDTH + 3 * (cell_width + GAP)


@pytest.mark.parametrize("extra, message", [
    (["--style-weight", "1e3,1e4", "--size", "48,64", "--tv-weight", "1,2"], "sweeps at most 2 options"),
    (["--style-weight", "1e3,x"], "expected a value or several comma-separated"),
    (["--style-loss", "gram,nope"], "invalid choice 'nope'"),
    (["--size", "48,0"], "--size must be"),
    (["--masks", "m.png"], "masks do not apply"),
])
def test_a_bad_sheet_is_one_line_and_writes_nothing(small_images, tmp_path, capsys, extra, message):
    content, style = small_images
    refused(capsys, ["sheet", content, style, "-o", str(tmp_path / "sheet.png"), *extra], message, folder=str(tmp_path))


def test_json_reports_each_cell_and_the_sheet_with_the_lines_on_stderr(small_images, tmp_path, capsys):
    import json

    content, style = small_images
    output = tmp_path / "sheet.png"
    assert main(["sheet", content, style, "-o", str(output), "--style-strength", "0.5,2", *TINY, "--json"]) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert [event["event"] for event in events] == ["cell", "cell", "sheet_end"]
    assert [event["kept"] for event in events[:2]] == [False, False] and events[2]["output"] == str(output)
    assert "wrote" in captured.err
