"""The PyTorch reference: the book chapter's style transfer (exercises 5.01-5.04), written faithfully.

Install with `pip install -e .[reference]` (torch only: no torchvision, so VGG19 is built here and
given the same Gatys weights the Keras side uses, read by the same restricted reader).

What the chapter does, and where this follows the exercise that works rather than its text:
- Images: `Resize(224)` (shorter side 224, longer side scaled and truncated, bilinear), `ToTensor`,
  `Normalize(ImageNet mean, std)`. The chapter's text says content and style must have the same shape;
  its loader only gives that for equal aspect ratios, so the style image is resized to the content
  image's size.
- Features: its first listing calls `x = layer(image)` (every layer on the input image), a bug; exercise
  5.03's `x = layer(x)` is followed. It records conv outputs at indices 0, 5, 10, 19, 21, 28, but
  torchvision's `ReLU(inplace=True)` then overwrites those tensors, so the features are post-ReLU;
  here they are taken after the ReLU explicitly. The network is Gatys' normalised VGG19 (the weights
  the Keras side uses) instead of torchvision's: its opening 1x1 conv takes RGB in [0, 1], so the
  normalised image is un-normalised first.
- Losses: content `mean((T - C)^2)` at conv4_2; style, for conv1_1..conv5_1 weighted 1, 0.8, 0.6, 0.4,
  0.2: `w * mean((G_T - G_S)^2) / (d*h*w)` with unnormalised Gram matrices; total
  `alpha * content + beta * style`, alpha = 1, beta = 1e5.
- Optimiser: Adam(lr = 0.001) on the normalised target image, initialised from the content image,
  without clamping; the loss reported at step i is the one computed before step i's update.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from neural_style import images
from neural_style.features.network_input import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from neural_style.features.weights import gatys_source_path, read_legacy_torch_state_dict
from neural_style.plan.sizes import plan_sizes

try:
    import torch
    from torch import nn
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("the PyTorch reference needs torch: pip install -e .[reference]") from error

LAYER_NAMES = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
               "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4")
CONTENT_LAYER = "conv4_2"
STYLE_WEIGHTS = {"conv1_1": 1.0, "conv2_1": 0.8, "conv3_1": 0.6, "conv4_1": 0.4, "conv5_1": 0.2}
ALPHA, BETA = 1.0, 1e5
LEARNING_RATE = 0.001
IMAGE_SIZE = 224
MEAN = tuple(IMAGENET_MEAN_RGB)  # torchvision's Normalize, the same constants as optim/adam.adam_space
STD = tuple(IMAGENET_STD_RGB)


class NormalisedVGG19(nn.Module):
    """Gatys' normalised VGG19 up to conv5_1: the 1x1 input conv, then 3x3 convs with ReLU and 2x2 max
    pooling (zero padding and floor pooling, like Keras's VGG19)."""

    def __init__(self, state: Dict[str, np.ndarray], last: str = "conv5_1") -> None:
        super().__init__()
        indices = sorted({int(name.split(".")[0]) for name in state})
        self.input_conv = nn.Conv2d(3, 3, 1)
        self._load(self.input_conv, state, indices[0])
        self.convs = nn.ModuleList()
        self.names: List[str] = []
        for name, index in zip(LAYER_NAMES, indices[1:]):
            weight = state[f"{index}.weight"]
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1)
            self._load(conv, state, index)
            self.convs.append(conv)
            self.names.append(name)
            if name == last:
                break
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    @staticmethod
    def _load(conv: nn.Conv2d, state: Dict[str, np.ndarray], index: int) -> None:
        conv.weight.data = torch.from_numpy(state[f"{index}.weight"].copy())
        conv.bias.data = torch.from_numpy(state[f"{index}.bias"].copy())

    def forward(self, rgb01: torch.Tensor, wanted: Sequence[str]) -> Dict[str, torch.Tensor]:
        x = self.input_conv(rgb01)
        features: Dict[str, torch.Tensor] = {}
        for name, conv in zip(self.names, self.convs):
            if name.endswith("_1") and name != "conv1_1":
                x = nn.functional.max_pool2d(x, 2, 2)
            x = torch.relu(conv(x))
            if name in wanted:
                features[name] = x
            if len(features) == len(wanted):
                break
        return features


def load_network(dtype: torch.dtype = torch.float32) -> NormalisedVGG19:
    """The same file and reader as the Keras side's `--weights gatys`."""
    with open(gatys_source_path(), "rb") as stream:
        state = read_legacy_torch_state_dict(stream)
    return NormalisedVGG19(state).to(dtype)


def to_tensor(pixels: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 H x W x 3 -> 1 x 3 x H x W ImageNet-normalised tensor (ToTensor + Normalize)."""
    x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))).to(dtype) / 255.0
    mean = torch.tensor(MEAN, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=dtype).view(1, 3, 1, 1)
    return (x.unsqueeze(0) - mean) / std


def to_pixels(tensor: torch.Tensor) -> np.ndarray:
    """The chapter's tensor2image: un-normalise, clamp to [0, 1], uint8 H x W x 3."""
    mean = torch.tensor(MEAN, dtype=tensor.dtype).view(3, 1, 1)
    std = torch.tensor(STD, dtype=tensor.dtype).view(3, 1, 1)
    rgb = (tensor.detach()[0] * std + mean).clamp(0, 1)
    return np.rint(rgb.permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def load_pair(content_path: str, style_path: str, size: int = IMAGE_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """Content at Resize(size); style resized to the content's size (bilinear, as torchvision on PIL):
    the `reference` sizing of `plan.sizes.plan_sizes`, which the preset uses too."""
    content = images.load_image(content_path, "content")
    style = images.load_image(style_path, "style")
    plan = plan_sizes(content.size, [style.size], size, sizing="reference")
    return images.to_array(plan.resize(content, plan.content)), images.to_array(plan.resize(style, plan.styles[0]))


def gram(features: torch.Tensor) -> torch.Tensor:
    _, d, h, w = features.shape
    flat = features.view(d, h * w)
    return torch.mm(flat, flat.t())


class ReferenceObjective:
    """alpha * content + beta * style, as a function of the normalised target image."""

    def __init__(self, network: NormalisedVGG19, content: torch.Tensor, style: torch.Tensor) -> None:
        self.network = network
        dtype = content.dtype
        self.mean = torch.tensor(MEAN, dtype=dtype).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, dtype=dtype).view(1, 3, 1, 1)
        wanted = (CONTENT_LAYER, *STYLE_WEIGHTS)
        self.wanted = wanted
        with torch.no_grad():
            self.content_features = self.features(content)[CONTENT_LAYER]
            self.style_grams = {name: gram(f) for name, f in self.features(style).items() if name in STYLE_WEIGHTS}

    def features(self, normalised: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.network(normalised * self.std + self.mean, self.wanted)

    def total(self, target: torch.Tensor) -> torch.Tensor:
        """alpha * content + beta * style: the loss the chapter minimises."""
        content, style = self.terms(target)
        return content + style

    def terms(self, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(content, style), weighted as in the chapter (alpha, beta): the order of the objective's terms (objective/build.TERMS),
        which has a third, total variation term that the chapter does not have."""
        features = self.features(target)
        content_loss = torch.mean((features[CONTENT_LAYER] - self.content_features) ** 2)
        style_losses = 0
        for layer, weight in STYLE_WEIGHTS.items():
            target_feature = features[layer]
            _, d, h, w = target_feature.shape
            style_loss = weight * torch.mean((gram(target_feature) - self.style_grams[layer]) ** 2)
            style_losses = style_losses + style_loss / (d * h * w)
        return ALPHA * content_loss, BETA * style_losses

    def loss_and_gradient(self, target: torch.Tensor) -> Tuple[float, np.ndarray]:
        """Loss and its gradient with respect to the normalised image (1 x 3 x H x W)."""
        variable = target.detach().clone().requires_grad_(True)
        total = self.total(variable)
        total.backward()
        return total.item(), variable.grad.numpy()


@dataclass
class ReferenceRun:
    """The reference's result: the picture and its loss after every step."""

    image: np.ndarray
    losses: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)  # since the start, after each step

    @property
    def seconds_per_step(self) -> float:
        return self.seconds[-1] / len(self.seconds) if self.seconds else float("nan")


def run_reference(content_pixels: np.ndarray, style_pixels: np.ndarray, steps: int = 500,
                  learning_rate: float = LEARNING_RATE, on_step: Optional[Callable[[int, float], None]] = None,
                  network: Optional[NormalisedVGG19] = None,
                  should_stop: Optional[Callable[[], bool]] = None) -> ReferenceRun:
    """Exercise 5.04: Adam on the normalised target image, initialised from the content image.
    `should_stop()`, polled before each step, ends the run early."""
    network = network or load_network()
    content = to_tensor(content_pixels)
    objective = ReferenceObjective(network, content, to_tensor(style_pixels))
    target_img = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([target_img], lr=learning_rate)
    run = ReferenceRun(image=content_pixels)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            break
        total_loss = objective.total(target_img)
        optimizer.zero_grad()
        total_loss.backward()
        optimizer.step()
        run.losses.append(total_loss.item())
        run.seconds.append(time.perf_counter() - start)
        if on_step:
            on_step(step, run.losses[-1])
    run.image = to_pixels(target_img)
    return run
