"""Refusals (`benchmark --refusals`): every command's bad input, each run as a user runs it (a process of its own),
with the time it took to say no and the peak memory of saying it. The same cases are the table of
tests/commands/test_refusals.py, which checks each: exit status 2, one line, nothing written."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, List

from PIL import Image

from neural_style.benchmarks.measure import RUN_REPORTING_PEAK, reported_peak
from neural_style.samples import sample

IMPOSSIBLE_SIZE = "100000"


@dataclass(frozen=True)
class Refusal:
    """One bad input: the command line (after `neural-style`), what its one line must say, the folder that must stay
    as it was."""

    name: str
    argv: List[str]
    says: str
    output: str


def bad_inputs(folder: str) -> dict:
    """Bad input files in `folder`: a truncated JPEG, a text file named .png, a folder named .jpg, an all-black mask,
    a manifest with a bad row, and a text file named .mp4."""
    photo = open(sample("chelsea.jpg"), "rb").read()
    paths = {name: os.path.join(folder, name) for name in
             ("truncated.jpg", "text.png", "folder.jpg", "black.png", "jobs.csv", "text.mp4")}
    with open(paths["truncated.jpg"], "wb") as stream:
        stream.write(photo[:len(photo) // 3])
    for name in ("text.png", "text.mp4"):
        with open(paths[name], "w") as stream:
            stream.write("not a picture\n")
    os.makedirs(paths["folder.jpg"], exist_ok=True)
    Image.new("L", Image.open(sample("chelsea.jpg")).size, 0).save(paths["black.png"])
    with open(paths["jobs.csv"], "w") as stream:
        stream.write(f"content,style,iterations\n{sample('chelsea.jpg')},{sample('swirls.jpg')},many\n")
    return paths


def refusal_cases(folder: str) -> List[Refusal]:
    """Every command and its bad inputs: missing, unreadable, truncated, of the wrong kind, an impossible size, a bad
    manifest row, a bad mask, a bad video; each writes into `folder`/out (which must stay empty)."""
    bad = bad_inputs(folder)
    out = os.path.join(folder, "out")  # where each command would write: it stays empty
    os.makedirs(out, exist_ok=True)
    photo, painting, clip = sample("chelsea.jpg"), sample("swirls.jpg"), bad["text.mp4"]
    missing = os.path.join(folder, "missing.jpg")
    still = ["-o", os.path.join(out, "picture.png")]
    return [
        Refusal("still: missing content", [missing, painting, *still], "does not exist", out),
        Refusal("still: unreadable content (a folder)", [bad["folder.jpg"], painting, *still], "is a folder", out),
        Refusal("still: truncated style", [photo, bad["truncated.jpg"], *still], "broken or truncated", out),
        Refusal("still: not an image", [bad["text.png"], painting, *still], "is not an image", out),
        Refusal("still: impossible size", [photo, painting, *still, "--size", IMPOSSIBLE_SIZE], "GB of memory", out),
        Refusal("still: all-black mask", [photo, painting, painting, *still, "--masks", bad["black.png"],
                                           bad["black.png"]], "is all black", out),
        Refusal("video: missing input", ["video", missing, painting, "-o", os.path.join(out, "v.mp4")],
                "does not exist", out),
        Refusal("video: not a video", ["video", clip, painting, "-o", os.path.join(out, "v.mp4")], "cannot be read",
                out),
        Refusal("video: impossible size", ["video", _frames(folder), painting, "-o", os.path.join(out, "v"),
                                           "--size", IMPOSSIBLE_SIZE], "GB of memory", out),
        Refusal("batch: no file matches", ["batch", "-o", out, "--contents", os.path.join(folder, "*.webp"),
                                           "--styles", painting], "matches no file", out),
        Refusal("batch: bad manifest row", ["batch", "-o", out, "--jobs", bad["jobs.csv"]], "line 2: iterations", out),
        Refusal("batch: impossible size", ["batch", "-o", out, "--contents", photo, "--styles", painting, "--size",
                                           IMPOSSIBLE_SIZE], "GB of memory", out),
        Refusal("sheet: truncated style", ["sheet", photo, bad["truncated.jpg"], "-o", os.path.join(out, "s.png")],
                "broken or truncated", out),
        Refusal("sheet: impossible size", ["sheet", photo, painting, "-o", os.path.join(out, "s.png"), "--size",
                                           IMPOSSIBLE_SIZE], "GB of memory", out),
        Refusal("compare: missing style", ["compare", photo, missing, "-o", out], "does not exist", out),
        Refusal("compare: impossible size", ["compare", photo, painting, "-o", out, "--size", IMPOSSIBLE_SIZE],
                "GB of memory", out),
        Refusal("benchmark: missing content", ["benchmark", "--time-to-quality", missing, painting, "-o", out],
                "does not exist", out),
        Refusal("benchmark: impossible size", ["benchmark", "--time-to-quality", photo, painting, "--size",
                                               IMPOSSIBLE_SIZE, "-o", out], "GB of memory", out),
    ]


def _frames(folder: str) -> str:
    """A folder of two small frames (a video input)."""
    frames = os.path.join(folder, "frames")
    os.makedirs(frames, exist_ok=True)
    for index in range(2):
        Image.open(sample("chelsea.jpg")).save(os.path.join(frames, f"{index}.png"))
    return frames


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Each refusal in a process of its own: its exit status, its line, the seconds and peak memory of saying it."""
    print("every command's bad input, each in a process of its own: exit status, seconds to the refusal (process "
          "start included), peak resident memory", flush=True)
    print(f"| {'case':<38} | status | seconds | peak MB | the line |\n| --- | --- | --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for case in refusal_cases(folder):
            if stop():
                return 0
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", RUN_REPORTING_PEAK, *case.argv], capture_output=True,
                                  text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            seconds = time.perf_counter() - started
            lines = done.stderr.strip().splitlines()
            said = [line for line in lines if not line.startswith("peak_bytes")]
            print(f"| {case.name:<38} | {done.returncode} | {seconds:.1f} | {reported_peak(lines) / 1e6:.0f} | "
                  f"{(said[0] if said else '')[:110]} |", flush=True)
    return 0


__all__ = ["IMPOSSIBLE_SIZE", "Refusal", "bad_inputs", "refusal_cases", "run"]
