"""One finished iteration, as the optimiser reports it and every watcher, log and summary reads it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional



@dataclass(frozen=True)
class Step:
    """One finished iteration: its loss and the objective's weighted terms by name, in the objective's
    order (`terms`; each is also an attribute: `step.style`). `image` (flat network image) is set on the
    record passed to callbacks as the run goes: an array, or, from the device L-BFGS, a tensor where it runs
    (`np.asarray(step.image)` brings it to the host, which only a watcher that shows it needs to do); the history
    keeps records without it, so it does not hold every iterate in memory."""

    iteration: int
    evaluations: int
    seconds: float
    total: float
    terms: Mapping[str, float] = field(default_factory=dict)
    width: int = 0  # the image size this iteration ran at (coarse-to-fine runs change it)
    height: int = 0
    image: Optional[Any] = None

    def __getattr__(self, name: str) -> float:
        # Only reached for names that are not fields: a term's value by its name.
        terms = self.__dict__.get("terms") or {}
        if name in terms:
            return terms[name]
        raise AttributeError(f"Step has no field or term {name!r}")

    def as_point(self) -> dict:
        """The iteration, total and each term by name: a point of a loss curve (the live page, the notebook)."""
        return {"iteration": self.iteration, "total": self.total, **self.terms}

    def without_image(self) -> "Step":
        return dataclasses.replace(self, image=None)


__all__ = ["Step"]
