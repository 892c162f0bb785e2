"""The images a user, the studio and the benchmarks can always reach: the CC0 samples shipped in the package (this
folder: chelsea.jpg, coffee.jpg, swirls.jpg; images/README.md says where each comes from). The package reads no
other images of its own: a benchmark's other pairs come from its --pairs flag."""

from __future__ import annotations

import os
from typing import Dict

SAMPLES_FOLDER = os.path.dirname(os.path.abspath(__file__))
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def sample_images() -> Dict[str, str]:
    """The sample images shipped with the package, by file name."""
    return {name: os.path.join(SAMPLES_FOLDER, name) for name in sorted(os.listdir(SAMPLES_FOLDER))
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS}


def sample(name: str) -> str:
    """The path of a shipped sample image (chelsea.jpg, coffee.jpg, swirls.jpg)."""
    return sample_images()[name]


__all__ = ["SAMPLES_FOLDER", "sample", "sample_images"]
