"""Neural style transfer (Gatys, Ecker & Bethge) on Keras 3 (TensorFlow, PyTorch or JAX) with scipy's L-BFGS.

    from neural_style import stylize
    result = stylize("images/content.jpg", "images/style.jpg", "out.png", size=256, iterations=100)
    result.to_pil()            # the picture
    result.history[-1].terms   # the last iteration's loss terms, by name

images in -> features/ -> objective/ (a list of named terms) -> optim/ -> watch/, all through run/ (its stages in order);
video/ and batch/ run it per frame and per job; commands/ is the command line; backends/ holds what differs between
the frameworks. Keras is imported once the backend is chosen, not here, so `--help` and input checks stay fast.
"""

from neural_style.api import StyleResult, stylize
from neural_style.batch.run import BatchResult, stylize_batch
from neural_style.config import LossWeights, StyleConfig, WatchOptions
from neural_style.errors import NeuralStyleError
from neural_style.video.stylize import VideoOptions, VideoResult, stylize_video

__version__ = "0.3.0"
__all__ = ["stylize", "StyleResult", "stylize_video", "VideoOptions", "VideoResult", "stylize_batch", "BatchResult",
           "StyleConfig", "WatchOptions", "LossWeights", "NeuralStyleError", "__version__"]
