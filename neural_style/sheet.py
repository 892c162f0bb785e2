"""A contact sheet: each style alone, at each value of one or two swept options, painted small and laid out in a
labelled grid, so a user can choose before a long run (`neural-style sheet`, and the studio's Contact sheet).

Columns are the first swept option's values; rows are the styles, each at every value of the second. Every cell is
an ordinary run through `api.stylize`, on one network shared by the cells that can share it. With a cells folder,
each finished cell is kept there under a name made from its settings, so an interrupted sheet resumes where it
stopped and a sheet re-run with one more value paints only the new cells.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from neural_style import images
from neural_style.api import stylize
from neural_style.config import PRESETS, SILENT_WATCH, StyleConfig, shown
from neural_style.errors import NeuralStyleError
from neural_style.features.vgg19 import SharedExtractors
from neural_style.backends.hardware import resolve_hardware
from neural_style.plan.run_plan import plan_run
from neural_style.watch.record import Messages

# A sheet is for choosing: small and short unless asked otherwise (about 10 s a cell in bfloat16, 20 s in float32
# on a 2-core CPU).
SHEET_SIZE = 192
SHEET_ITERATIONS = 60
MAX_SWEPT_OPTIONS = 2
LABEL_HEIGHT = 22
ROW_LABEL_WIDTH = 150
GAP = 4


@dataclass(frozen=True)
class Sweep:
    """One swept option: the StyleConfig field, how the user calls it (its flag), and its values."""

    field: str
    label: str
    values: Tuple[Any, ...]

    def describe(self, value: Any) -> str:
        return f"{self.label} {shown(value)}"


@dataclass(frozen=True)
class Cell:
    """One picture of the sheet: its run's configuration and its place."""

    row: int
    column: int
    config: StyleConfig


def check_sweeps(config: StyleConfig, sweeps: Sequence[Sweep]) -> None:
    """One-line errors for a sheet that cannot be made: too many swept options, a field swept twice, masks."""
    if len(sweeps) > MAX_SWEPT_OPTIONS:
        raise NeuralStyleError(f"a sheet sweeps at most {MAX_SWEPT_OPTIONS} options ({', '.join(s.label for s in sweeps)} "
                               "were given several values): give the others one value each")
    names = [sweep.field for sweep in sweeps]
    if len(set(names)) != len(names):
        raise NeuralStyleError("an option is swept twice: give each option its values once, comma-separated")
    if config.masks or config.style_masks:
        raise NeuralStyleError("a sheet paints each style alone, so masks do not apply: leave out --masks and "
                               "--style-masks")
    if not config.styles:
        raise NeuralStyleError("a sheet needs at least one style image")


def plan_cells(config: StyleConfig, sweeps: Sequence[Sweep]) -> Tuple[List[str], List[str], List[Cell]]:
    """The column labels, the row labels and every cell, row by row."""
    check_sweeps(config, sweeps)
    across = sweeps[0] if sweeps else None
    down = sweeps[1] if len(sweeps) > 1 else None
    columns = list(across.values) if across else [None]
    column_labels = [across.describe(value) for value in columns] if across else [""]
    cells, row_labels = [], []
    for style in config.styles:
        for down_value in (down.values if down else (None,)):
            row = len(row_labels)
            row_labels.append(_style_name(style) + (f"\n{down.describe(down_value)}" if down else ""))
            for column, value in enumerate(columns):
                changes: Dict[str, Any] = {"styles": (style,), "style_blend_weights": None, "output": None}
                for sweep, swept in ((across, value), (down, down_value)):
                    if sweep and sweep.field == "preset":  # a named look: its options
                        changes.update(PRESETS[swept])
                    elif sweep:
                        changes[sweep.field] = swept
                cells.append(Cell(row, column, config.with_options(**changes)))
    return column_labels, row_labels, cells


def check_cells_fit(cells: Sequence[Cell]) -> None:
    """Every cell planned as its run will plan it, before any work: a cell too large for memory (or too small for
    the layers) is a one-line error naming it, and nothing is written."""
    sizes: Dict[int, Tuple[int, int]] = {}

    def size_of(source: Any) -> Tuple[int, int]:
        if id(source) not in sizes:
            header = images.image_size(source) if isinstance(source, str) else None
            sizes[id(source)] = header or images.load_image(source).size
        return sizes[id(source)]

    for cell in cells:
        config = cell.config
        try:
            plan_run(config, resolve_hardware(config), size_of(config.content), [size_of(s) for s in config.styles])
        except NeuralStyleError as error:
            raise NeuralStyleError(f"cell {cell.row + 1},{cell.column + 1}: {error}") from None


def _style_name(style: Any) -> str:
    return os.path.splitext(os.path.basename(style))[0] if isinstance(style, str) else "style"


def cell_key(config: StyleConfig) -> str:
    """A name for a cell's picture made from everything that decides it: its settings and its files' sizes and times."""
    parts = []
    for item in fields(config):
        value = getattr(config, item.name)
        parts.append(f"{item.name}={value!r}")
        for path in (value if isinstance(value, tuple) else (value,)):
            if isinstance(path, str) and os.path.isfile(path):
                status = os.stat(path)
                parts.append(f"{path}:{status.st_size}:{status.st_mtime_ns}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def paint_sheet(config: StyleConfig, sweeps: Sequence[Sweep], cells_folder: Optional[str] = None,
                notify: Callable[[str], None] = lambda line: None,
                should_stop: Optional[Callable[[], bool]] = None,
                on_cell: Optional[Callable[[Cell, np.ndarray], None]] = None,
                extractors: Optional[Any] = None, events: Optional[Messages] = None) -> Optional[Image.Image]:
    """Paint every cell (reusing the ones already in `cells_folder`) and lay them out; None if stopped first.
    `extractors` (features.vgg19.SharedExtractors) shares networks with other runs of the process; `events` gets a
    cell event for each (--json)."""
    column_labels, row_labels, cells = plan_cells(config, sweeps)
    for source in [config.content, *config.styles]:  # every image checked before the first cell
        images.load_image(source, "content" if source is config.content else "style")
    check_cells_fit(cells)
    if cells_folder:
        os.makedirs(cells_folder, exist_ok=True)
    extractors = extractors if extractors is not None else SharedExtractors()
    pictures: Dict[Tuple[int, int], np.ndarray] = {}
    for number, cell in enumerate(cells, 1):
        path = os.path.join(cells_folder, f"cell_{cell_key(cell.config)}.png") if cells_folder else None
        if path and os.path.exists(path):
            pictures[(cell.row, cell.column)] = images.to_array(Image.open(path).convert("RGB"))
            notify(f"cell {number}/{len(cells)}: kept from {path}")
            kept = True
        else:
            if should_stop and should_stop():
                return None
            result = stylize(config=cell.config, watch=SILENT_WATCH,
                             extractor=extractors.for_config(cell.config), should_stop=should_stop)
            if result.stop_reason == "stopped":
                return None
            kept = False
            pictures[(cell.row, cell.column)] = result.image
            if path:
                images.save_image(path, result.image)
            notify(f"cell {number}/{len(cells)}: {row_labels[cell.row].replace(chr(10), ', ')}"
                   + (f", {column_labels[cell.column]}" if column_labels[cell.column] else "")
                   + f": loss {result.history[-1].total if result.history else float('nan'):.4g} in {result.seconds:.1f} s")
        if events is not None:
            label = row_labels[cell.row].replace(chr(10), ", ") + (f", {column_labels[cell.column]}"
                                                                 if column_labels[cell.column] else "")
            events.event("cell", cell=number, cells=len(cells), label=label, kept=kept, path=path)
        if on_cell:
            on_cell(cell, pictures[(cell.row, cell.column)])
    return lay_out(pictures, column_labels, row_labels)


def lay_out(pictures: Dict[Tuple[int, int], np.ndarray], column_labels: Sequence[str],
            row_labels: Sequence[str]) -> Image.Image:
    """The grid: column labels above, row labels at the left, each picture in its place on white."""
    cell_height = max(p.shape[0] for p in pictures.values())
    cell_width = max(p.shape[1] for p in pictures.values())
    has_header = any(column_labels)
    top = LABEL_HEIGHT if has_header else 0
    width = ROW_LABEL_WIDTH + len(column_labels) * (cell_width + GAP)
    height = top + len(row_labels) * (cell_height + GAP)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for column, label in enumerate(column_labels):
        draw.text((ROW_LABEL_WIDTH + column * (cell_width + GAP) + 4, 4), label, fill="black", font=font)
    for row, label in enumerate(row_labels):
        draw.multiline_text((4, top + row * (cell_height + GAP) + 4), _wrapped(label), fill="black", font=font)
    for (row, column), picture in pictures.items():
        sheet.paste(Image.fromarray(picture), (ROW_LABEL_WIDTH + column * (cell_width + GAP),
                                               top + row * (cell_height + GAP)))
    return sheet


def _wrapped(label: str, width: int = 20) -> str:
    import textwrap

    return "\n".join(line for part in label.splitlines() for line in (textwrap.wrap(part, width) or [""]))


__all__ = ["MAX_SWEPT_OPTIONS", "SHEET_ITERATIONS", "SHEET_SIZE", "Cell", "Sweep", "cell_key", "check_sweeps",
           "lay_out", "paint_sheet", "plan_cells"]
