"""A run's plan, made once before any work: where it computes (the resolved `Hardware`), where it starts, and per
coarse-to-fine scale the images' sizes and whether it is evaluated in tiles. What cannot work (an image too small for
the layers, a size too large for memory) is a one-line error here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

from neural_style.config import (FEED_FORWARD_METHOD, FEED_FORWARD_START, WHOLE_IMAGE_STYLE_LOSSES, StyleConfig,
                                 whole_image_refusal)
from neural_style.errors import NeuralStyleError
from neural_style.features.vgg19 import layers_used
from neural_style.backends.hardware import Hardware
from neural_style.plan.memory import MemoryLimits, MemoryPlan, available_for, memory_model, plan_memory
from neural_style.plan.scales import Scale, plan_scales
from neural_style.plan.sizes import Size, SizePlan, check_image_sizes, plan_sizes

# Where a picture painted in one pass of a feed-forward network starts and ends (--method adain): its start.


@dataclass(frozen=True)
class ScalePlan:
    """One scale of a run: its schedule, the images' sizes at it, and whether it is evaluated in tiles."""

    scale: Scale
    sizes: SizePlan
    memory: MemoryPlan


@dataclass(frozen=True)
class RunPlan:
    """What a run resolved before any work: where and how it computes, the picture it starts from, and the scales
    the optimiser improves it at (none for --method adain: the feed-forward start is the picture)."""

    hardware: Hardware
    sizes: SizePlan  # at the output's size
    scales: Tuple[ScalePlan, ...]
    start: str  # config.init, or FEED_FORWARD_START for a picture painted in one pass
    memory: Optional[MemoryLimits] = None  # what it was planned against
    optimizer: str = "lbfgs"  # config.optimizer resolved (resolve_optimizer)
    optimizer_why: str = "asked for"

    @property
    def first_sizes(self) -> SizePlan:
        """The sizes the run starts at: the first scale's, or the output's."""
        return self.scales[0].sizes if self.scales else self.sizes


def resolve_optimizer(requested: str, hardware: Hardware) -> Tuple[str, str]:
    """(optimiser, why): `requested`, or for 'auto' the bounded L-BFGS kept on the device on a GPU (where scipy's host
    routine would keep the card waiting) and in bfloat16 on a CPU (where the evaluation is fast enough that scipy's
    routine and its float64 copies were a fifth of each iteration at 512 px: docs/performance.md), and scipy's
    L-BFGS-B in float32 on a CPU (the reference; there the two cost the same)."""
    if requested != "auto":
        return requested, "asked for"
    if hardware.on_gpu:
        return "lbfgs-device", "auto: on a GPU, L-BFGS stays on the device"
    if hardware.precision == "bfloat16":
        return "lbfgs-device", "auto: bfloat16 on a CPU, where scipy's routine would be a fifth of each iteration"
    return "lbfgs", "auto: scipy's L-BFGS-B in float32 on a CPU"


def plan_run(config: StyleConfig, hardware: Hardware, content_size: Size, style_sizes: Sequence[Size],
             available_memory: Union[MemoryLimits, float, None] = None) -> RunPlan:
    """Every scale's sizes and tiles, for `hardware`: a size too small for the layers, or too large for the memory
    there is (`available_memory` as measured once, MemoryLimits; or the host's bytes; by default
    `memory.available_for(hardware)`, capped by --memory-budget), is a one-line error here."""
    if config.style_loss == "wasserstein" and config.method != FEED_FORWARD_METHOD and hardware.device.upper().startswith("/MPS"):
        raise NeuralStyleError("--style-loss wasserstein needs float64 (its eigendecomposition), which Apple GPUs (MPS) "
                               "do not have: use --style-loss gram or sliced, or --device /CPU:0")
    sizes = plan_sizes(content_size, style_sizes, config.size, config.style_scale, config.sizing)
    check_image_sizes(layers_used(config), sizes.content, sizes.styles)
    available = (available_memory if isinstance(available_memory, MemoryLimits)
                 else available_for(hardware, available_memory, config.memory_budget_bytes()))  # measured now
    optimizer, optimizer_why = resolve_optimizer(config.optimizer, hardware)
    model = memory_model(hardware, optimizer)
    scales = []
    for scale in reversed(plan_scales(config)):  # the output's size first: a refusal names --size
        at_scale = plan_sizes(content_size, style_sizes, scale.size, config.style_scale, config.sizing)
        memory = plan_memory(scale.size, [at_scale.content, *at_scale.styles], config.lbfgs_history,
                             config.tile_size, config.tile_halo, available, model)
        if memory.tile and config.style_loss in WHOLE_IMAGE_STYLE_LOSSES:
            raise whole_image_refusal(config.style_loss, f"be tiled, and the whole {scale.size} px image does not fit "
                                      "in memory", "lower --size")
        scales.insert(0, ScalePlan(scale, at_scale, memory))
    if config.method == FEED_FORWARD_METHOD:  # planned as an optimisation would be (its memory refused alike), run in one pass
        return RunPlan(hardware, sizes, (), FEED_FORWARD_START, available, optimizer, optimizer_why)
    return RunPlan(hardware, sizes, tuple(scales), config.init, available, optimizer, optimizer_why)


__all__ = ["RunPlan", "ScalePlan", "plan_run", "resolve_optimizer"]
