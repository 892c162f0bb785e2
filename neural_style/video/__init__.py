"""Video style transfer with temporal consistency: each frame a run of the one pipeline."""

from neural_style.video.stylize import VideoOptions, VideoResult, stylize_video

__all__ = ["VideoOptions", "VideoResult", "stylize_video"]
