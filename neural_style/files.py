"""Writing files so that a kill at any moment leaves the old file or the new one, never half of one."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from typing import Any, Callable, Iterable, Sequence


def write_atomically(path: str, write: Callable[[str], Any], suffix: str = "") -> None:
    """Call write(temporary_path) for a file in the same folder, then rename it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_csv(path: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV file with a header row, written atomically."""

    def write(temporary: str) -> None:
        with open(temporary, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows(rows)

    write_atomically(path, write, suffix=".csv")


def write_json(path: str, value: Any) -> None:
    """A JSON file (indented), written atomically."""

    def write(temporary: str) -> None:
        with open(temporary, "w") as stream:
            json.dump(value, stream, indent=2)

    write_atomically(path, write, suffix=".json")


def write_text(path: str, text: str) -> None:
    """A text file, written atomically."""

    def write(temporary: str) -> None:
        with open(temporary, "w") as stream:
            stream.write(text)

    write_atomically(path, write)
