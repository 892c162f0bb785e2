"""What the tests share besides fixtures: the sample images' folder, the FAST run options, small pictures, and the
one check of a refusal (every command's bad input: exit status 2, one line naming the problem, no traceback, nothing
written)."""

import importlib.util
import os
import subprocess
import sys
import time
from typing import Callable, Optional, Sequence

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(REPO, "images")

# The smallest runs that still exercise the whole pipeline: 48 px, a few iterations, no snapshots, quiet, the
# plain graph (XLA would compile for seconds per size), and the photo as the start (the default AdaIN start loads
# a second network, about a second a run: tests/feedforward tests it). Tests vary it: dict(FAST, iterations=4).
# scipy's L-BFGS-B named: `auto` takes the device L-BFGS in bfloat16 on a CPU, which would make a test's optimiser
# depend on the machine's bfloat16 support.
FAST = dict(size=48, iterations=6, snapshot_every=0, quiet=True, xla=False, init="content", optimizer="lbfgs")


def needs(module: str, extra: str):
    """A mark that skips a test, in one line naming the extra to install, where `module` is missing: the README's
    test command installs only the test extra, so torch (reference) and Ray (cluster) may be absent."""
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs {module}: pip install -e .[{extra}]")


def random_image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def photo(width=300, height=200):
    """The sample coffee photo at width x height, as uint8 RGB."""
    return np.asarray(Image.open(os.path.join(IMAGES, "coffee.jpg")).convert("RGB").resize((width, height)))


def files_in(folder: Optional[str]) -> set:
    """Every file under `folder` (relative paths), to see that a refusal wrote nothing."""
    if folder is None or not os.path.isdir(folder):
        return set()
    return {os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder) for name in names}


def assert_refused(status: int, err: str, message: str, folder: Optional[str] = None,
                   before: Optional[set] = None) -> None:
    """A refusal: exit status 2, one line on standard error that says `message`, no traceback, and, where `folder`
    (and what it held `before`, default nothing) is given, nothing new written there."""
    lines = err.strip().splitlines()
    assert status == 2, f"exit status {status}, not 2: {err[-2000:]}"
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, err[-2000:]
    if folder is not None:
        assert files_in(folder) == (before or set()), f"written despite the refusal: {files_in(folder) - (before or set())}"


def refused(capsys, argv: Sequence[str], message: str, folder: Optional[str] = None,
            main: Optional[Callable[[Sequence[str]], int]] = None) -> str:
    """Run the command line `argv` (neural_style.commands.cli.main, argparse's own refusals included) and check it
    was refused as assert_refused says; returns the line."""
    if main is None:
        from neural_style.commands.cli import main
    before = files_in(folder)
    capsys.readouterr()
    try:
        status = main(list(argv))
    except SystemExit as exit:  # argparse refuses by exiting
        status = exit.code
    err = capsys.readouterr().err
    assert_refused(status, err, message, folder, before)
    return err.strip()


def command(*args: str, **kwargs) -> subprocess.Popen:
    """`neural-style ARGS...` as a process of its own (its output and errors captured, as text)."""
    return subprocess.Popen([sys.executable, "-m", "neural_style", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, seconds: float = 240) -> None:
    """Wait for `condition` while `process` runs (failing with its output if it ends first, or on the deadline)."""
    deadline = time.time() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "the condition never came"
        time.sleep(0.1)
