"""Frameworks started quietly: what their C++ libraries write to the terminal at import (CUDA, absl, XLA lines that
no log level silences) held back, and replayed only where the start fails."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Hold back what C++ libraries write to file descriptor 2; replay it if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


__all__ = ["native_stderr_captured"]
