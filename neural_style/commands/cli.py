"""The command line: picks the subcommand and hands it the rest of the arguments.

    neural-style CONTENT STYLE... [-o OUTPUT] [flags]   paint (stylize.py)
    neural-style compare CONTENT STYLE -o FOLDER        the PyTorch reference beside this tool (compare.py)
    neural-style benchmark [flags]                      speed and memory (benchmark.py)
    neural-style video INPUT STYLE... -o OUTPUT         video with temporal consistency (video.py)
    neural-style batch -o OUTDIR --contents ... --styles ...   many pictures, here or on Ray (batch.py)
    neural-style sheet CONTENT STYLE... -o SHEET        a contact sheet over styles and swept options (sheet.py)
    neural-style studio [--port PORT] [--host HOST]     the studio: a local web app (studio.py)
    neural-style doctor [--check]                       what this machine offers a run, to paste in an issue

No command module imports this one; each takes its shared pieces from common.py and flags.py.
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional, Sequence

SUBCOMMANDS = {"compare": "neural_style.commands.compare", "benchmark": "neural_style.commands.benchmark",
               "video": "neural_style.commands.video", "batch": "neural_style.commands.batch",
               "sheet": "neural_style.commands.sheet", "studio": "neural_style.commands.studio",
               "doctor": "neural_style.commands.doctor"}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `neural-style` and `python -m neural_style`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    from neural_style.commands.stylize import main as stylize_main

    return stylize_main(argv)
