"""A `StyleConfig`'s validation: each setting against its range, then the rules between settings (tiles, masks,
calibration, files), each a one-line error naming the problem and the fix."""

from __future__ import annotations

import os
from typing import Optional, Sequence

from neural_style.errors import NeuralStyleError
from neural_style.config.defaults import (ADAM_SPACES, BACKENDS, METHODS, NAMED_STARTS, OPTIMIZERS, OPTIMIZER_SPECS,
                                          POOLINGS, PRECISIONS, SIZINGS, STYLE_CALIBRATIONS, STYLE_LOSSES,
                                          STYLE_NORMALIZATIONS, TILE_ALIGNMENT, VGG19_CONV_LAYERS,
                                          WHOLE_IMAGE_STYLE_LOSSES, check_int, check_number, is_file_start,
                                          whole_image_refusal)
from neural_style.config.settings import StyleConfig


def _check_layer_names(kind: str, layers: Sequence[str], flag: str) -> None:
    if not layers:
        raise NeuralStyleError(f"no {kind} layers given: pass {flag} with one or more of {', '.join(VGG19_CONV_LAYERS)}")
    for layer in layers:
        if layer not in VGG19_CONV_LAYERS:
            raise NeuralStyleError(
                f"unknown {kind} layer {layer!r}: valid VGG19 layers are {', '.join(VGG19_CONV_LAYERS)}"
            )


def validate(config: StyleConfig) -> None:
    """Raise NeuralStyleError naming the first option that cannot work, and how to fix it."""
    _check_images_given(config)
    _check_numbers(config)
    _check_choices(config)
    _check_layers(config)
    _check_blend_weights(config)
    _check_masks(config)
    _check_files(config)


def _check_images_given(config: StyleConfig) -> None:
    if config.content is None:
        raise NeuralStyleError("no content image given: pass the path of a photo as the first argument")
    if not config.styles:
        raise NeuralStyleError("no style image given: pass the path of a painting as the second argument")


def _check_numbers(config: StyleConfig) -> None:
    check_int("--size", config.size, minimum=1, flag="--size")
    check_number("--style-scale", config.style_scale, minimum=0, strict=True, flag="--style-scale")
    check_int("--iterations", config.iterations, minimum=1, flag="--iterations")
    if config.output_bits not in (None, 8, 16):
        raise NeuralStyleError(f"--output-bits must be 8 or 16, got {config.output_bits!r}: pass --output-bits 16 for "
                               "16 bits per channel")
    check_int("--lbfgs-history", config.lbfgs_history, minimum=1, flag="--lbfgs-history")
    check_number("--learning-rate", config.learning_rate, minimum=0, strict=True, flag="--learning-rate")
    check_number("--adam-average", config.adam_average, minimum=0, strict=False, flag="--adam-average")
    if config.adam_average >= 1:
        raise NeuralStyleError(f"--adam-average must be below 1, got {config.adam_average!r}: pass a decay such as 0.9")
    check_number("--tolerance", config.tolerance, minimum=0, strict=False, flag="--tolerance (0 turns it off)")
    if config.scales != "auto":
        check_int("--scales", config.scales, minimum=1, flag="--scales (or auto)")
    _check_tiles(config)
    check_number("--adain-alpha", config.adain_alpha, minimum=0, strict=False, flag="--adain-alpha")
    if config.adain_alpha > 1:
        raise NeuralStyleError(f"--adain-alpha must be at most 1, got {config.adain_alpha!r}: pass a strength in 0-1")
    for name in ("content_weight", "style_weight", "tv_weight"):
        value = getattr(config, name)
        if value is not None:
            flag = "--" + name.replace("_", "-")
            check_number(flag, value, minimum=0, strict=False, flag=flag)
    if config.seed is not None:
        check_int("--seed", config.seed, minimum=0, flag="--seed")
        if config.xla:
            raise NeuralStyleError("--xla cannot give a seeded run's byte-identical picture (TensorFlow has no "
                                   "deterministic XLA max-pool gradient): drop --xla or --seed")
    config.memory_budget_bytes()  # a budget that is not a size is refused here
    check_number("--style-strength", config.style_strength, minimum=0, strict=False, flag="--style-strength")
    if config.style_calibration not in ("auto", "off"):
        if config.style_normalization != "mean":
            raise NeuralStyleError(f"--style-calibration {config.style_calibration} measures the 'mean' style "
                                   "normalisation's losses: drop --preset reference, or pass --style-calibration off")
        if config.weight_source != "gatys":
            raise NeuralStyleError(f"--style-calibration {config.style_calibration} is measured on the Gatys weights' "
                                   "features: pass --weights gatys, or --style-calibration off")
        if config.style_calibration == "gradient" and config.style_loss == "sliced":
            raise NeuralStyleError("--style-calibration gradient has no reference for --style-loss sliced: pass "
                                   "--style-calibration target (or off), or --style-loss gram or wasserstein")



def check_settings_read(config: StyleConfig, given: Sequence[str]) -> None:
    """Refuse, naming the fix, settings `given` by the user (not by a preset) that this run would silently ignore:
    one optimiser's settings (OptimizerSpec.settings) with another. (XLA with a seed is refused by `validate`.)"""
    if config.method != "optimize" or config.optimizer not in OPTIMIZERS:  # an unknown name is validate's to refuse
        return
    running = OPTIMIZER_SPECS["lbfgs" if config.optimizer == "auto" else config.optimizer]  # auto: an L-BFGS
    for name in given:
        owner = next((spec for spec in OPTIMIZER_SPECS.values() if name in spec.settings), running)
        if name not in running.settings and owner is not running:
            flag = "--" + name.replace("_", "-")
            raise NeuralStyleError(f"{flag} is {owner.label}'s setting and this run optimises with {running.label}: "
                                   f"pass --optimizer {owner.name}, or drop {flag}")


def _check_tiles(config: StyleConfig) -> None:
    if config.tile_size != "auto":
        check_int("--tile-size", config.tile_size, minimum=0, flag="--tile-size (0 turns tiling off, or auto)")
        if config.tile_size % TILE_ALIGNMENT:
            raise NeuralStyleError(f"--tile-size must be a multiple of {TILE_ALIGNMENT} px, got {config.tile_size}: "
                                   f"use --tile-size {max(TILE_ALIGNMENT, config.tile_size // TILE_ALIGNMENT * TILE_ALIGNMENT)}")
    if config.tile_size not in ("auto", 0) and config.style_loss in WHOLE_IMAGE_STYLE_LOSSES:
        raise whole_image_refusal(config.style_loss, "be evaluated in tiles", "drop --tile-size")
    check_int("--tile-halo", config.tile_halo, minimum=0, flag="--tile-halo")
    if config.tile_halo % TILE_ALIGNMENT:
        raise NeuralStyleError(f"--tile-halo must be a multiple of {TILE_ALIGNMENT} px, got {config.tile_halo}: "
                               f"use --tile-halo {config.tile_halo // TILE_ALIGNMENT * TILE_ALIGNMENT}")


def _check_choices(config: StyleConfig) -> None:
    for name, allowed in (("method", METHODS), ("optimizer", OPTIMIZERS), ("pooling", POOLINGS), ("sizing", SIZINGS),
                          ("precision", PRECISIONS), ("style_calibration", STYLE_CALIBRATIONS),
                          ("style_normalization", STYLE_NORMALIZATIONS), ("adam_space", ADAM_SPACES),
                          ("style_loss", STYLE_LOSSES), ("backend", BACKENDS)):
        if getattr(config, name) not in allowed:
            raise NeuralStyleError(f"unknown {name} {getattr(config, name)!r}: use one of {', '.join(allowed)}")


def _check_layers(config: StyleConfig) -> None:
    _check_layer_names("content", config.content_layers, "--content-layers")
    _check_layer_names("style", config.style_layers, "--style-layers")
    _check_weight_list(config.style_layer_weights, len(config.style_layers), "--style-layer-weights",
                       "style layers", "layer", "each style layer weight")


def _check_blend_weights(config: StyleConfig) -> None:
    _check_weight_list(config.style_blend_weights, len(config.styles), "--style-blend-weights",
                       "style images were given", "style image", "each style blend weight")


def _check_masks(config: StyleConfig) -> None:
    for flag, masks in (("--masks", config.masks), ("--style-masks", config.style_masks)):
        if masks and len(masks) != len(config.styles):
            raise NeuralStyleError(f"{flag} has {len(masks)} mask{'s' * (len(masks) != 1)} but {len(config.styles)} "
                                   "style images were given: give one mask per style image, in the same order")
    if (config.masks or config.style_masks) and config.style_loss in WHOLE_IMAGE_STYLE_LOSSES:
        raise whole_image_refusal(config.style_loss, "paint regions by masks", "drop the masks")
    if (config.masks or config.style_masks) and config.style_normalization != "mean":
        raise NeuralStyleError("masks need the 'mean' style normalisation (regions of different sizes are compared "
                               "by their means): drop --preset reference")


def _check_weight_list(weights: Optional[Sequence[float]], count: int, flag: str, counted: str, per: str,
                       each: str) -> None:
    if weights is None:
        return
    if len(weights) != count:
        are = "" if counted.endswith("given") else "there are "
        raise NeuralStyleError(f"{flag} has {len(weights)} values but {are}{count} {counted}: give one weight per {per}")
    for weight in weights:
        check_number(each, weight, minimum=0, strict=False, flag=flag)
    if sum(weights) <= 0:
        raise NeuralStyleError(f"{flag} are all zero: give at least one positive weight")


def _check_files(config: StyleConfig) -> None:
    if config.weight_source == "file" and not os.path.isfile(config.weights):
        raise NeuralStyleError(
            f"--weights {config.weights!r} is neither 'gatys', 'imagenet' nor an existing file: "
            "pass one of those or the path of a Keras VGG19 .h5/.weights.h5 file"
        )
    if is_file_start(config.init) and not os.path.isfile(str(config.init)):
        raise NeuralStyleError(
            f"--init {config.init!r} is neither {', '.join(repr(s) for s in NAMED_STARTS)} nor an existing image file: "
            "pass one of those"
        )
