"""The terminal a user has: a run's progress is one line redrawn in place at any width (a real run in a
pseudo-terminal of 40, 80 and 200 columns, its screen rebuilt by a terminal emulator, pyte), plain lines on a dumb
terminal, and every message printable in a console's encoding."""

import fcntl
import io
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from neural_style.step import Step
from neural_style.watch.record import Progress
from neural_style.watch.terminal import ProgressLine

from tests.helpers import IMAGES

pyte = pytest.importorskip("pyte", reason="needs pyte: pip install -e .[test]")

LINE = ProgressLine(38, 40, "scale 3/3 384x255", "loss 7.001", {"content": 2.94, "style": 3.36, "tv": 0.70},
                    "0.34 s/eval", "ETA 0:12")


def test_the_line_fits_every_width_keeping_the_count_and_the_time_left():
    for width in range(15, 260):
        text = LINE.layout(width)
        assert len(text) <= width and text.startswith("38/40") and text.endswith("ETA 0:12"), (width, text)
    assert "content 2.94" in LINE.layout(200) and "[" in LINE.layout(80) and "[" not in LINE.layout(40)


def _run_in_terminal(columns, tmp_path, term="xterm-256color"):
    """The main command in a pseudo-terminal `columns` wide: everything it wrote to the terminal."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = dict(os.environ, TERM=term, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("COLUMNS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "neural_style", os.path.join(IMAGES, "chelsea.jpg"), os.path.join(IMAGES, "swirls.jpg"),
         "-o", str(tmp_path / f"out{columns}.png"), "--size", "48", "--iterations", "40", "--init", "content",
         "--no-xla", "--snapshot-every", "0", "--tolerance", "0"],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    written = b""
    deadline = time.time() + 300
    while time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            written += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(leader)
    assert process.returncode == 0, written.decode(errors="replace")[-2000:]
    return written.decode()


def _screen(written, columns):
    screen = pyte.Screen(columns, 400)
    pyte.Stream(screen).feed(written)
    return [line.rstrip() for line in screen.display if line.strip()]


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_a_run_shows_one_progress_line_at_any_width(tmp_path, columns):
    lines = _screen(_run_in_terminal(columns, tmp_path), columns)
    progress = [line for line in lines if re.match(r"\d+/40\b", line)]
    assert len(progress) == 1 and progress[0].startswith("40/40") and "ETA 0:00" in progress[0], lines
    after = " ".join(lines[lines.index(progress[0]) + 1:])
    assert after.startswith("40 iterations") and "wrote" in after, lines
    assert "Traceback" not in "\n".join(lines)


def test_a_dumb_terminal_gets_plain_lines(tmp_path):
    written = _run_in_terminal(80, tmp_path, term="dumb")
    assert "\x1b[" not in written
    assert [line.split()[1] for line in written.splitlines() if line.startswith("iteration ")] == [
        "1/40", "10/40", "20/40", "30/40", "40/40"]


def test_every_message_prints_on_a_cp1252_console():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", write_through=True)
    for interactive in (False, True):
        progress = Progress(2, stream=stream, interactive=interactive)
        progress.message("wrote Tübingen → 東京.png ✓")
        progress.update(Step(1, 2, 0.5, 3.0, {"content": 1.0, "style": 2.0}))
        progress.close()
    text = raw.getvalue().decode("cp1252")
    assert text.count("wrote Tübingen ? ??.png ?") == 2


def _documented_events():
    """The --json table of docs/options.md: {event: (fields, ...)}."""
    with open(os.path.join(os.path.dirname(IMAGES), "docs", "options.md"), encoding="utf-8") as stream:
        text = stream.read()
    table = text.split("## `--json` events", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| `")]
    return {row[1].strip().strip("`"): tuple(re.findall(r"`(\w+)`", row[2])) for row in rows}


def test_the_json_events_are_the_documented_ones():
    from neural_style.watch.events import EVENTS

    assert _documented_events() == EVENTS


def test_json_gives_parseable_events_with_their_fields_and_messages_on_stderr(tmp_path):
    """A still run with --json: standard output is JSON lines only, from start to end, each event with exactly its
    documented fields; the human lines are on standard error."""
    import json

    from neural_style.watch.events import EVENTS

    done = subprocess.run(
        [sys.executable, "-m", "neural_style", os.path.join(IMAGES, "chelsea.jpg"), os.path.join(IMAGES, "swirls.jpg"),
         "-o", str(tmp_path / "out.png"), "--size", "48", "--iterations", "6", "--init", "content", "--no-xla",
         "--snapshot-every", "3", "--json"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [event["event"] for event in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("iteration") == 6
    assert kinds.count("snapshot") == 2 and "scale" in kinds
    for event in events:
        assert tuple(name for name in event if name != "event") == EVENTS[event["event"]], event
    end = events[-1]
    assert end["stop_reason"] == "done" and end["output"] == str(tmp_path / "out.png") and end["iterations"] == 6
    assert set(events[2 if kinds[1] == "scale" else 1]["terms"]) == {"content", "style", "tv"}
    assert "6 iterations" in done.stderr and "{" not in done.stderr
