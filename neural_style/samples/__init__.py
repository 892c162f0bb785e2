"""The images a user, the studio and the benchmarks can always reach: the CC0 samples shipped in the package (this
folder: chelsea.jpg, coffee.jpg, swirls.jpg; images/README.md says where each comes from), and the project's shared
evaluation images where they are present (../shared/images beside a checkout, or $NEURAL_STYLE_SHARED_IMAGES). The
same lookup works from a checkout and from the installed wheel."""

from __future__ import annotations

import os
from typing import Dict, List, Optional

SAMPLES_FOLDER = os.path.dirname(os.path.abspath(__file__))
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Where the shared evaluation images may be: an explicit folder, else ../shared/images beside the current directory (a
# checkout run from its root), else beside the checkout this package sits in (an editable install).
SHARED_IMAGES_VARIABLE = "NEURAL_STYLE_SHARED_IMAGES"
CHECKOUT = os.path.dirname(os.path.dirname(SAMPLES_FOLDER))  # the checkout (or site-packages) the package is in


def sample_images() -> Dict[str, str]:
    """The sample images shipped with the package, by file name."""
    return {name: os.path.join(SAMPLES_FOLDER, name) for name in sorted(os.listdir(SAMPLES_FOLDER))
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS}


def sample(name: str) -> str:
    """The path of a shipped sample image (chelsea.jpg, coffee.jpg, swirls.jpg)."""
    return sample_images()[name]


def shared_images_folder() -> Optional[str]:
    """The shared evaluation images' folder, where there is one (None: not on this machine)."""
    candidates = [os.environ.get(SHARED_IMAGES_VARIABLE, ""), os.path.join(os.getcwd(), os.pardir, "shared", "images"),
                  os.path.join(CHECKOUT, os.pardir, "shared", "images")]
    return next((os.path.abspath(folder) for folder in candidates if folder and os.path.isdir(folder)), None)


def shared_images(*names: str) -> List[str]:
    """The paths of those of `names` that are in the shared folder (none without one)."""
    folder = shared_images_folder()
    return [os.path.join(folder, name) for name in names if folder and os.path.isfile(os.path.join(folder, name))]


__all__ = ["SAMPLES_FOLDER", "sample", "sample_images", "shared_images", "shared_images_folder"]
