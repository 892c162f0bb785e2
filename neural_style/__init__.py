"""Neural style transfer (Gatys, Ecker & Bethge) on Keras/TensorFlow with scipy's L-BFGS.

    from neural_style import stylize
    result = stylize("images/content.jpg", "images/style.jpg", "out.png", size=256, iterations=100)
    result.to_pil()          # the picture
    result.history[-1].total  # the loss log

TensorFlow is imported on first use, not here, so `--help` and input checks stay fast.
"""

from .api import StyleResult, stylize
from .batch import BatchResult, stylize_batch
from .config import LossWeights, StyleConfig
from .errors import NeuralStyleError

__version__ = "0.1.0"
__all__ = ["stylize", "StyleResult", "stylize_batch", "BatchResult", "StyleConfig", "LossWeights", "NeuralStyleError", "__version__"]
