"""The jobs of a batch: every content x style pair, or the rows of a manifest CSV, with their output names.

Everything here is checked before any work: globs that match nothing, files that are missing, manifest
rows with unknown columns or values that do not parse (named by their line number), outputs that would
share a name (renamed, and reported).
"""

from __future__ import annotations

import collections.abc
import csv
import glob
import os
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional, Sequence

from neural_style.config import WATCH_FIELDS, StyleConfig, build_config, validate
from neural_style.errors import NeuralStyleError

# Columns of a manifest that are not options.
MANIFEST_COLUMNS = ("content", "style", "output")
# Options a job cannot change: where it runs and how it is watched (every WatchOptions field) are the batch's.
BATCH_OWNED = WATCH_FIELDS | {"content", "styles", "output", "output_bits", "device", "cache_dir"}
SEVERAL = ";"  # several styles in one manifest cell are blended: "a.jpg;b.jpg"


@dataclass
class BatchJob:
    """One picture to paint: its inputs, its output path, and the options that differ from the batch's."""

    content: str
    styles: List[str]
    output: str
    options: Dict[str, Any] = field(default_factory=dict)
    line: Optional[int] = None  # the manifest line it came from

    @property
    def name(self) -> str:
        return os.path.basename(self.output)

    def config(self, shared: StyleConfig) -> StyleConfig:
        """The shared options with this job's own on top (`shared` must already be a complete config)."""
        return build_config(shared, None, content=self.content, styles=list(self.styles), output=self.output,
                            **self.options)


def expand_paths(patterns: Sequence[str], role: str) -> List[str]:
    """Files named or matched by glob patterns, in the order given (each pattern's matches sorted)."""
    paths: List[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        matches = [path for path in matches if os.path.isfile(path)]
        if not matches:
            what = "matches no file" if glob.has_magic(pattern) else "is not a file"
            raise NeuralStyleError(f"--{role}s {pattern!r} {what}: pass image files or a glob such as 'photos/*.jpg'")
        paths.extend(path for path in matches if path not in paths)
    return paths


def stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def default_output(outdir: str, content: str, styles: Sequence[str]) -> str:
    """OUTDIR/<content-stem>__<style-stem>.png (several styles: stems joined by '+')."""
    return os.path.join(outdir, f"{stem(content)}__{'+'.join(stem(s) for s in styles)}.png")


def pair_jobs(contents: Sequence[str], styles: Sequence[str], outdir: str) -> List[BatchJob]:
    """Every content x style pair (globs expanded), contents first."""
    content_paths, style_paths = expand_paths(contents, "content"), expand_paths(styles, "style")
    return [BatchJob(content, [style], default_output(outdir, content, [style]))
            for content in content_paths for style in style_paths]


def read_manifest(path: str, outdir: str, shared: StyleConfig) -> List[BatchJob]:
    """The jobs of a manifest CSV: columns content, style (several separated by ';'), optional output
    (relative to OUTDIR), and any StyleConfig option (size, style_weight or style-weight, ...).
    Relative image paths are read from the manifest's folder. Every row is checked here; the first
    bad one is named by its line number."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.reader(stream))
    except OSError as error:
        raise NeuralStyleError(f"cannot read the manifest {path} ({error.strerror or error}): pass an existing CSV file")
    except (UnicodeDecodeError, csv.Error) as error:
        raise NeuralStyleError(f"the manifest {path} is not a CSV text file ({error}): save it as CSV (UTF-8)")
    if not rows:
        raise NeuralStyleError(f"the manifest {path} is empty: give a header row (content,style,...) and one row per job")
    header = [name.strip().replace("-", "_") for name in rows[0]]
    _check_header(path, header)
    folder = os.path.dirname(os.path.abspath(path))
    jobs = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            jobs.append(_job_from_row(dict(zip(header, (cell.strip() for cell in row))), len(row), len(header),
                                      folder, outdir, shared, line))
        except NeuralStyleError as error:
            raise NeuralStyleError(f"{path} line {line}: {error}") from None
    if not jobs:
        raise NeuralStyleError(f"the manifest {path} has no jobs: add one row per job under its header")
    return jobs


def _check_header(path: str, header: List[str]) -> None:
    for required in ("content", "style"):
        if required not in header:
            raise NeuralStyleError(f"the manifest {path} has no {required!r} column: its first row must name the "
                                   "columns, e.g. content,style,output,size")
    for name in header:
        if name in MANIFEST_COLUMNS:
            continue
        if name in BATCH_OWNED or name not in OPTION_TYPES:
            why = "is set for the whole batch" if name in BATCH_OWNED else "is not an option"
            raise NeuralStyleError(f"the manifest {path} has a column {name!r} that {why}: the columns are content, "
                                   "style, output and options such as size, iterations, style_weight")
    repeated = {name for name in header if header.count(name) > 1}
    if repeated:
        raise NeuralStyleError(f"the manifest {path} names the column {sorted(repeated)[0]!r} twice: keep one")


def _job_from_row(row: Dict[str, str], cells: int, columns: int, folder: str, outdir: str, shared: StyleConfig,
                  line: int) -> BatchJob:
    if cells > columns:
        raise NeuralStyleError(f"{cells} cells but the header names {columns} columns: quote cells that hold commas")
    content = _manifest_file(row.get("content", ""), "content", folder)
    styles = [_manifest_file(cell, "style", folder) for cell in row.get("style", "").split(SEVERAL)]
    output = row.get("output") or ""
    output = os.path.join(outdir, output) if output else default_output(outdir, content, styles)
    options = {name: parse_option(name, text) for name, text in row.items()
               if name not in MANIFEST_COLUMNS and text != ""}
    job = BatchJob(content, styles, output, options, line)
    validate(job.config(shared))  # a bad value is named now, not when its turn comes
    return job


def _manifest_file(cell: str, role: str, folder: str) -> str:
    if not cell.strip():
        raise NeuralStyleError(f"no {role} image: fill in the {role} column")
    path = os.path.join(folder, cell.strip())
    if not os.path.isfile(path):
        raise NeuralStyleError(f"the {role} image {cell.strip()!r} is not a file (read relative to the manifest's "
                               "folder): fix the path")
    return path


def _option_types() -> Dict[str, Any]:
    hints = typing.get_type_hints(StyleConfig)
    return {f.name: hints[f.name] for f in fields(StyleConfig)}


OPTION_TYPES = _option_types()


def parse_option(name: str, text: str) -> Any:
    """A manifest cell as the option's type: numbers, yes/no, 'auto', 'none', comma lists (quote the cell)."""
    kind = OPTION_TYPES[name]
    union = typing.get_args(kind) if typing.get_origin(kind) is typing.Union else (kind,)
    members = [member for member in union if member is not type(None)]
    if text.lower() == "none" and type(None) in union:
        return None
    try:
        if name in AUTO_OR_WHOLE_NUMBER:
            return "auto" if text == "auto" else int(text)
        if typing.get_origin(members[0]) in (list, tuple, collections.abc.Sequence):
            item = typing.get_args(members[0])[0]
            return [_convert(item, part.strip()) for part in text.split(",") if part.strip()]
        return _convert(members[0], text)
    except ValueError:
        raise NeuralStyleError(f"{name} = {text!r} is not a valid value: {_describe(name, members[0])}") from None


AUTO_OR_WHOLE_NUMBER = frozenset({"scales", "tile_size"})


def _convert(kind: Any, text: str) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError(text)
        return lowered in ("1", "true", "yes", "on")
    return kind(text) if kind in (int, float, str) else text


def _describe(name: str, kind: Any) -> str:
    if name in AUTO_OR_WHOLE_NUMBER:
        return "give a whole number or auto"
    if typing.get_origin(kind) in (list, tuple, collections.abc.Sequence):
        return "give a comma-separated list, quoted"
    return {bool: "give yes or no", int: "give a whole number", float: "give a number"}.get(kind, "see --help")


def _key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def name_outputs(jobs: List[BatchJob]) -> List[str]:
    """Give jobs that would write the same file distinct names (-2, -3, ... before the extension), in
    job order; returns one line per renamed job, for the user to see before any work."""
    wanted = {_key(job.output) for job in jobs}  # a new name must not take another job's own name
    seen: set = set()
    renamed = []
    for job in jobs:
        if _key(job.output) not in seen:
            seen.add(_key(job.output))
            continue
        base, extension = os.path.splitext(job.output)
        number = 2
        while _key(f"{base}-{number}{extension}") in seen | wanted:
            number += 1
        original, job.output = job.output, f"{base}-{number}{extension}"
        seen.add(_key(job.output))
        renamed.append(f"{job.content} x {', '.join(job.styles)} would also write {os.path.basename(original)}: "
                       f"written as {os.path.basename(job.output)}")
    return renamed
