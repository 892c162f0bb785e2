"""Progress on screen, the CSV log and snapshot names."""

import csv
import io

import numpy as np

from neural_style.step import Step
from neural_style.watch.record import LossLog, Progress, log_path, snapshot_path


def step(i, evaluations=None):
    return Step(i, evaluations or i + 1, 0.5 * i, 10.0 / i, dict(content=1.0, style=9.0 / i - 1.0, tv=0.01), image=np.zeros(3))


def test_terminal_gets_one_redrawn_line_with_loss_and_eta():
    """Each update returns to the line's start and clears it (tests/watch/test_terminal.py runs a real terminal)."""
    stream = io.StringIO()
    progress = Progress(100, stream=stream, interactive=True)
    for i in range(1, 51):
        progress.update(step(i))
    progress.close()
    text = stream.getvalue()
    assert text.count("\r\x1b[2K") >= 49 and text.count("\n") == 1
    last = text.split("\r\x1b[2K")[-1]
    assert last.startswith("50/100 [") and "loss 0.2" in last and "ETA 0:25" in last


def test_plain_lines_every_n_iterations_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(30, stream=stream, interactive=False, print_every=10)
    for i in range(1, 31):
        progress.update(step(i))
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/30", "10/30", "20/30", "30/30"]
    assert "\r" not in stream.getvalue()


def test_quiet_prints_nothing():
    stream = io.StringIO()
    progress = Progress(5, stream=stream, quiet=True)
    progress.message("hello")
    progress.update(step(1))
    assert stream.getvalue() == ""


def test_log_and_snapshot_names_sit_beside_the_output(tmp_path):
    output = str(tmp_path / "picture.jpg")
    assert snapshot_path(output, 50) == str(tmp_path / "picture_at_iteration_50.jpg")
    assert log_path(output) == str(tmp_path / "picture_log.csv")
    log = LossLog(log_path(output))
    log.append(Step(1, 2, 0.5, 3.0, dict(content=1.0, style=1.5, tv=0.5)))
    log.append(Step(2, 3, 1.0, 2.0, dict(content=1.0, style=0.75, tv=0.25)))
    with open(log.path) as stream:
        rows = list(csv.DictReader(stream))
    assert [float(r["total"]) for r in rows] == [3.0, 2.0] and rows[1]["evaluations"] == "3"
