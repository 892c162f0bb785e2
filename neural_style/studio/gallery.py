"""The studio's gallery: a folder of finished pictures, each with a JSON of its settings beside it, and the images
the runs used, kept by content so a run's command line still works after the studio closes.

    GALLERY/0007-chelsea-swirls.png    the picture
    GALLERY/0007-chelsea-swirls.json   its settings, how the run went, and its command line
    GALLERY/inputs/<sha1>/<name>        every content, style and mask image used, once, under its own name
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy as np

from neural_style import files, images

INPUTS = "inputs"


@dataclass(frozen=True)
class Entry:
    """One finished picture of the gallery."""

    picture: str
    settings: str

    @property
    def caption(self) -> str:
        with open(self.settings) as stream:
            run = json.load(stream).get("run", {})
        loss = run.get("loss")
        how = f"{run.get('iterations', 0)} iterations, loss {loss:.4g}" if loss is not None else "one pass"
        return f"{os.path.splitext(os.path.basename(self.picture))[0]}: {how}, {run.get('seconds', 0):.0f} s"


class Gallery:
    """The gallery folder (created when first written to)."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.abspath(folder)

    def keep_input(self, path: str) -> str:
        """A copy of an input image in the gallery's inputs folder, named by its content; its path."""
        digest = hashlib.sha1()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        kept = os.path.join(self.folder, INPUTS, digest.hexdigest()[:16], os.path.basename(path))
        if not os.path.exists(kept):
            os.makedirs(os.path.dirname(kept), exist_ok=True)
            files.write_atomically(kept, lambda temporary: shutil.copyfile(path, temporary),
                                   suffix=os.path.splitext(path)[1])
        return kept

    def add(self, picture: np.ndarray, name: str, settings: Dict[str, Any]) -> Entry:
        """Keep a finished picture under the next number with `name`, and its settings beside it."""
        os.makedirs(self.folder, exist_ok=True)
        stem = f"{self._next_number():04d}-{_slug(name)}"
        entry = Entry(os.path.join(self.folder, stem + ".png"), os.path.join(self.folder, stem + ".json"))
        files.write_json(entry.settings, settings)
        images.save_image(entry.picture, picture)
        return entry

    def entries(self) -> List[Entry]:
        """Every picture with its settings, newest first."""
        if not os.path.isdir(self.folder):
            return []
        found = []
        for name in sorted(os.listdir(self.folder), reverse=True):
            stem, extension = os.path.splitext(name)
            settings = os.path.join(self.folder, stem + ".json")
            if extension == ".png" and re.match(r"\d{4,}-", stem) and os.path.exists(settings):
                found.append(Entry(os.path.join(self.folder, name), settings))
        return found

    def _next_number(self) -> int:
        numbers = [int(name.split("-", 1)[0]) for name in os.listdir(self.folder) if re.match(r"\d{4,}-", name)]
        return max(numbers, default=0) + 1


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-")[:60] or "picture"


def settings_record(config: Any, command: str, result: Optional[Any] = None) -> Dict[str, Any]:
    """What the gallery keeps beside a picture: the configuration as asked, the command line that paints it, and
    how the run went."""
    asked = {name: (list(value) if isinstance(value, tuple) else value)
             for name, value in dataclasses.asdict(config).items()}
    record: Dict[str, Any] = {"settings": asked, "command": command}
    if result is not None:
        record["run"] = {"iterations": result.iterations, "evaluations": result.evaluations,
                         "seconds": round(result.seconds, 2), "stop_reason": result.stop_reason,
                         "loss": result.history[-1].total if result.history else None,
                         "precision": result.precision, "device": result.device}
    return record


__all__ = ["Entry", "Gallery", "settings_record"]
