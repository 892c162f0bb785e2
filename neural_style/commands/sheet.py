"""`neural-style sheet CONTENT STYLE... -o sheet.png [--style-weight 1e4,1e5,1e6] [--size 192 ...]`: a contact
sheet (neural_style/sheet.py). It takes the main command's painting flags; one or two of the single-valued ones may
be given several values, comma-separated, and are swept."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

from neural_style import images
from neural_style.commands.common import OneLineParser, StopOnSignal, run_command
from neural_style.commands.flags import add_common_flags, add_style_flags, config_from_args
from neural_style.config import validate
from neural_style.files import check_inputs_kept
from neural_style.run.render import run_inputs
from neural_style.watch.events import EventWriter
from neural_style.watch.record import Messages
from neural_style.sheet import SHEET_ITERATIONS, SHEET_SIZE, Sweep, check_cells_fit, paint_sheet, plan_cells

PROG = "neural-style sheet"


def _values_of(parse: Callable[[str], Any], choices: Optional[Sequence[Any]]) -> Callable[[str], List[Any]]:
    """A flag's type that takes one value or several, comma-separated, each parsed and checked as the flag's own."""

    def parse_all(text: str) -> List[Any]:
        try:
            values = [parse(item.strip()) for item in text.split(",") if item.strip()]
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(f"expected a value or several comma-separated, each as the main "
                                             f"command takes it, got {text!r}") from None
        for value in values:
            if choices is not None and value not in choices:
                raise argparse.ArgumentTypeError(f"invalid choice {value!r} (choose from {', '.join(map(str, choices))})")
        if not values:
            raise argparse.ArgumentTypeError("expected a value, or several comma-separated")
        return values

    return parse_all


def sweepable(action: argparse.Action) -> bool:
    """A flag that takes one plain value (a number, a choice, a start): those can be swept. Not --backend: a process
    computes on one."""
    return (bool(action.option_strings) and action.nargs is None and action.dest != "backend"
            and (action.type in (int, float) or action.choices is not None or action.dest == "init"
                 or getattr(action.type, "__name__", "") == "_whole_number_or_auto"))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG, argument_default=argparse.SUPPRESS,
        description="A contact sheet: the content painted in each style alone, small and short, at each value of one "
        "or two swept options (give a flag several values, comma-separated: --style-weight 1e4,1e5,1e6), in a "
        "labelled grid: columns the first swept option, rows the styles (by the second). Each cell is kept as it "
        "finishes, so an interrupted sheet resumes when run again.")
    parser.add_argument("content", help="content image (photo)")
    parser.add_argument("styles", nargs="+", metavar="style", help="style image(s); each gets its own row(s)")
    parser.add_argument("-o", "--output", default="sheet.png", help="the sheet's image (default: sheet.png)")
    parser.add_argument("--cells", metavar="FOLDER",
                        help="where each cell's picture is kept (default: OUTPUT-STEM_cells beside the output)")
    add_style_flags(parser)
    add_common_flags(parser)
    for action in parser._actions:
        if sweepable(action):
            action.type = _values_of(action.type or str, action.choices)
            action.choices = None
            action.swept = True  # type: ignore[attr-defined]
    return parser


def sheet_request(args: argparse.Namespace) -> Tuple[Any, List[Any], str, str]:
    """(the sheet's StyleConfig, its sweeps, the output path, the cells folder) from the parsed flags."""
    given = vars(args).copy()
    output = given.pop("output")
    cells = given.pop("cells", None) or os.path.splitext(output)[0] + "_cells"
    swept = {action.dest: action.option_strings[0] for action in build_parser()._actions
             if getattr(action, "swept", False)}
    sweeps = []
    for name, value in list(given.items()):
        if name in swept:
            if len(value) > 1:
                sweeps.append(Sweep(name, swept[name].lstrip("-").replace("-", " "), tuple(value)))
            given[name] = value[0]
    given.setdefault("size", SHEET_SIZE)
    given.setdefault("iterations", SHEET_ITERATIONS)
    config, _ = config_from_args(argparse.Namespace(**given))
    config = config.with_options(output=None)
    for sweep in sweeps:  # every value checked as a run's own, before any cell
        for value in sweep.values:
            validate(config.with_options(**{sweep.field: value}))
    validate(config)
    return config, sweeps, output, cells


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The sheet command; 0 when the sheet is written, 2 for bad input, 130/143 interrupted."""
    args = build_parser().parse_args(argv)
    quiet = getattr(args, "quiet", False)
    # The lines go to standard output, unless it carries --json's events: then to standard error.
    events = EventWriter() if getattr(args, "json", False) else None
    messages = Messages(sys.stderr if events else sys.stdout, quiet, events)

    def body(stop: StopOnSignal) -> int:
        config, sweeps, output, cells = sheet_request(args)
        images.check_writable_image_path(output)
        check_inputs_kept([("sheet", output), ("cells folder", cells)], run_inputs(config))
        notify = messages.message
        _, rows, planned = plan_cells(config, sweeps)
        for source in [config.content, *config.styles]:  # every image checked before anything else
            images.load_image(source, "content" if source is config.content else "style")
        check_cells_fit(planned)  # before the plan is said: a sheet that cannot be painted says only why
        notify(f"sheet: {len(planned)} cells ({len(rows)} rows x {len(planned) // len(rows)} columns) at "
               f"{config.size} px, {config.iterations} iterations each; cells kept in {cells}")
        sheet = paint_sheet(config, sweeps, cells, notify, stop, events=messages)
        if sheet is None:
            notify(f"interrupted: the cells finished so far are in {cells}; run the same command again to go on")
            return 0
        images.save_image(output, images.to_array(sheet))
        notify(f"wrote {output} ({sheet.width}x{sheet.height})")
        messages.event("sheet_end", cells=len(planned), output=output)
        return 0

    return run_command(PROG, body)
