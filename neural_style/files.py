"""Writing files so that a kill at any moment leaves the old file or the new one, never half of one, with the mode
the user's umask gives, as every other program's files have (0644 under umask 022)."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from typing import Any, Callable, Iterable, Sequence, Tuple

from neural_style.errors import NeuralStyleError


def _identities(path: str) -> Tuple[Any, ...]:
    """What makes a path one file: its device and inode where it exists, and its resolved path."""
    try:
        status = os.stat(path)
        return (("inode", status.st_dev, status.st_ino), ("path", os.path.realpath(path)))
    except OSError:
        return (("path", os.path.realpath(path)),)


def check_inputs_kept(outputs: Iterable[Tuple[str, str]], inputs: Iterable[Tuple[str, Any]]) -> None:
    """Before any work: refuse, in one line, an output that is the same file as an input (no run may overwrite what it
    reads), compared by inode (hard links, symbolic links, other spellings) and by resolved path. `outputs` and
    `inputs` are (what, path) pairs; an input that is not a path (an array, an image) or does not exist is skipped."""
    known = {}
    for what, source in inputs:
        if isinstance(source, (str, os.PathLike)) and os.path.exists(source):
            for identity in _identities(os.fspath(source)):
                known.setdefault(identity, (what, os.fspath(source)))
    for output_what, path in outputs:
        for identity in _identities(path) if path else ():
            if identity in known:
                input_what, source = known[identity]
                raise NeuralStyleError(f"the {output_what} {path} is the {input_what} {source}: it would be "
                                       "overwritten: choose another output path")


def current_umask() -> int:
    """The process's umask: from /proc/self/status where Linux says it (reading it there changes nothing), else by
    setting it and setting it back."""
    try:
        with open("/proc/self/status") as stream:
            for line in stream:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from the umask: what open() would give it (0o666 & ~umask)."""
    return 0o666 & ~current_umask()


def write_atomically(path: str, write: Callable[[str], Any], suffix: str = "") -> None:
    """Call write(temporary_path) for a file in the same folder, then give it the umask's mode and rename it over
    `path` (mkstemp makes its file 0600, whatever the umask)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, file_mode())
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

