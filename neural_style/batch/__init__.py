"""Many pictures at once: jobs planned from pairs or a manifest, run here, in local worker processes or on Ray."""

from neural_style.batch.run import BatchResult, stylize_batch

__all__ = ["BatchResult", "stylize_batch"]
