"""`neural-style studio [--port PORT] [--host HOST] [--gallery FOLDER]`: the studio (neural_style/studio/), served
until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import time
from typing import Optional, Sequence

from neural_style.commands.common import OneLineParser, StopOnSignal, refuse_json_events, run_command
from neural_style.commands.flags import add_common_flags
from neural_style.commands.stylize import command_line
from neural_style.studio.app import Studio
from neural_style.studio.gallery import Gallery
from neural_style.studio.page import STUDIO_USER, launch

PROG = "neural-style studio"
DEFAULT_PORT = 7860  # Gradio's own default
DEFAULT_GALLERY = "neural-style-gallery"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
PASSWORD_VARIABLE = "NEURAL_STYLE_STUDIO_PASSWORD"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG, description="The studio: a local web page to upload a photo and paintings, set the options with "
        "sliders, watch the picture being painted, stop it, and keep every picture with its settings in a gallery "
        "folder. Needs the studio extra (Gradio). One run at a time; other requests wait in a queue.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the port to serve on; 0: any free one (default: {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on; anything but 127.0.0.1 lets other machines use the studio "
                        "(default: 127.0.0.1)")
    parser.add_argument("--gallery", default=DEFAULT_GALLERY, metavar="FOLDER",
                        help=f"where finished pictures and their settings are kept (default: ./{DEFAULT_GALLERY})")
    parser.add_argument("--password", default=os.environ.get(PASSWORD_VARIABLE),
                        help=f"on a --host other machines can reach, the password the page asks for (user "
                        f"'{STUDIO_USER}'; or ${PASSWORD_VARIABLE}) (default: one generated and printed once)")
    add_common_flags(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve the studio until interrupted; 2 for bad input (a port in use, Gradio missing)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    refuse_json_events(parser, args)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")

    def body(stop: StopOnSignal) -> int:
        say = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
        studio = Studio(Gallery(args.gallery), command_line, seed=args.seed, device=args.device, notify=say,
                        memory_budget=args.memory_budget, backend=args.backend or "auto")
        page = launch(studio, args.host, args.port, args.password)
        reach = ("only this machine can reach it; --host 0.0.0.0 opens it to others" if args.host in LOCAL_HOSTS
                 else f"listening on {args.host}: other machines can reach it")
        say(f"studio: {page.url} ({reach}); gallery: {studio.gallery.folder}; Ctrl-C to close")
        if page.password and page.password != args.password:  # generated: said once, here
            say(f"studio: user {STUDIO_USER!r}, password {page.password} (pass --password to choose one)")
        try:
            while not stop():
                time.sleep(0.2)
        finally:
            studio.close()
            page.close()
        return 0

    return run_command(PROG, body, stopping="closing the studio")
