"""Where one loss-and-gradient evaluation's time goes: each piece of work the evaluation does, timed alone at the
shapes it has in the evaluation, by layer and by kind, against the evaluation timed whole, and against this machine's
convolution peak (a VGG-sized 3x3 convolution, 256 -> 256 channels at 128 x 96, timed the same way).

A piece is timed as its own traced function on tensors made beforehand, the best of `rounds` calls, less the cost of
calling a function that does nothing (also measured), so the pieces add up to the evaluation where the measurement is
faithful (tests/run/test_profile.py holds them to 10%). The kinds:

- convolution forward: the convolution with its bias and ReLU (one kernel where the backend fuses them);
- convolution input gradient: the transposed convolution that carries the gradient to the layer's input (weight
  gradients are never computed);
- ReLU gradient: the gradient masked where the layer's output is zero;
- pooling: forward and gradient;
- style statistics: each style term at its layer, forward and gradient (the Gram matrix's C x C products), from the
  activation as the network hands it out (the term's own casts included);
- other terms: the content term at its layers (its casts included), total variation on the image;
- casts: the image converted to the network's precision and its gradient back, and weights held in another
  precision than the network computes in (float16's mixed policy);
- copies and sums: the channel-order transposes of a channels-first network (PyTorch) and the gradient sums where a
  layer both feeds the next and is read by a term.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
from keras import ops

from neural_style import backends

KINDS = ("convolution forward", "convolution input gradient", "ReLU gradient", "pooling", "style statistics",
         "other terms", "casts", "copies and sums")
SHORT_KINDS = ("conv fwd", "conv grad", "ReLU grad", "pool", "style", "other", "casts", "copies")
# The convolution the peak is measured on: a VGG-sized layer (block 3 of a 512 x 384 picture).
PEAK_CONVOLUTION = (128, 96, 256, 256)


@dataclass(frozen=True)
class Piece:
    """One piece of an evaluation's work: where (a layer, or 'image'), what kind (one of KINDS), its seconds and
    its GFLOP (0 where it is not arithmetic-bound)."""

    layer: str
    kind: str
    seconds: float
    gflop: float = 0.0


@dataclass(frozen=True)
class Profile:
    """The pieces of one evaluation, the evaluation timed whole, and the convolution peak, all at one size and
    precision on one device and backend."""

    precision: str
    height: int
    width: int
    pieces: Tuple[Piece, ...]
    evaluation_seconds: float
    evaluation_gflop: float
    convolution_peak_gflops: float
    call_seconds: float

    @property
    def pieces_seconds(self) -> float:
        return sum(piece.seconds for piece in self.pieces)

    def seconds_by_kind(self) -> Dict[str, float]:
        return {kind: sum(piece.seconds for piece in self.pieces if piece.kind == kind) for kind in KINDS}

    def layers(self) -> List[str]:
        return list(dict.fromkeys(piece.layer for piece in self.pieces))

    @property
    def peak_fraction(self) -> float:
        """The evaluation's arithmetic rate as a fraction of the convolution peak."""
        return self.evaluation_gflop / self.evaluation_seconds / self.convolution_peak_gflops

    def table(self) -> str:
        """The profile as a table of milliseconds: a row per layer, a column per kind, then the totals."""
        header = f"{'layer':<14}" + "".join(f"{kind:>10}" for kind in SHORT_KINDS) + f"{'total':>10}{'GFLOP/s':>9}"
        lines = [header]
        for layer in self.layers():
            mine = [piece for piece in self.pieces if piece.layer == layer]
            cells = []
            for kind in KINDS:
                seconds = [piece.seconds for piece in mine if piece.kind == kind]
                cells.append(f"{1e3 * sum(seconds):>10.1f}" if seconds else f"{'':>10}")
            seconds, gflop = sum(piece.seconds for piece in mine), sum(piece.gflop for piece in mine)
            rate = f"{gflop / seconds:>9.0f}" if gflop and seconds > 0 else f"{'':>9}"
            lines.append(f"{layer:<14}" + "".join(cells) + f"{1e3 * seconds:>10.1f}" + rate)
        by_kind = self.seconds_by_kind()
        total = self.pieces_seconds
        lines.append(f"{'all pieces':<14}" + "".join(f"{1e3 * by_kind[kind]:>10.1f}" for kind in KINDS)
                     + f"{1e3 * total:>10.1f}")
        lines.append(f"{'share':<14}" + "".join(f"{100 * by_kind[kind] / total:>9.0f}%" for kind in KINDS)
                     + f"{100 * total / self.evaluation_seconds:>9.0f}% of the evaluation")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: the evaluation's time and rate against the convolution peak."""
        rate = self.evaluation_gflop / self.evaluation_seconds
        return (f"{self.precision} at {self.width}x{self.height}: one evaluation {self.evaluation_seconds:.3f} s, "
                f"{self.evaluation_gflop:.1f} GFLOP, {rate:.0f} GFLOP/s = {100 * self.peak_fraction:.0f}% of the "
                f"convolution peak ({self.convolution_peak_gflops:.0f} GFLOP/s); the pieces add up to "
                f"{1e3 * self.pieces_seconds:.0f} ms ({100 * self.pieces_seconds / self.evaluation_seconds:.0f}%)")


class _Timer:
    """Times pieces: each traced once, then the best of `rounds` calls, less the cost of an empty call."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.call_seconds = 0.0
        tiny = ops.ones((1,), "float32")
        self.call_seconds = self.best(backends.forward_function(lambda x: x * 1.0, "graph"), (tiny,))

    def best(self, function: Callable, arguments: Sequence[Any], rounds: int = 0) -> float:
        _wait(function(*arguments))
        best = float("inf")
        for _ in range(rounds or self.rounds):
            started = time.perf_counter()
            _wait(function(*arguments))
            best = min(best, time.perf_counter() - started)
        return max(best - self.call_seconds, 0.0)

    def forward(self, body: Callable, *arguments: Any) -> float:
        return self.best(backends.forward_function(body, "graph"), arguments)

    def with_gradient(self, body: Callable, *arguments: Any) -> float:
        return self.best(backends.gradient_function(lambda x, *rest: (body(x, *rest), ()), "graph"), arguments)


def _wait(result: Any) -> None:
    # Computations may run asynchronously (JAX, a GPU): reading one value back waits for them.
    first = result
    while isinstance(first, (tuple, list)):
        first = first[-1]
    ops.convert_to_numpy(ops.reshape(first, (-1,))[:1])


def _random(shape: Sequence[int], dtype: str, seed: int) -> Any:
    values = np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype(np.float32)
    return ops.cast(ops.convert_to_tensor(values), dtype)


def _convolution_pieces(timer: _Timer, kernel: Any, bias: Any, height: int, width: int, dtype: str,
                        data_format: str, seed: int) -> Tuple[float, float, float]:
    """(forward, input gradient, ReLU gradient) seconds of one 3x3 convolution with `kernel` at height x width."""
    channels_in, channels_out = kernel.shape[2], kernel.shape[3]
    first = data_format == "channels_first"
    shape = (lambda c: (1, c, height, width)) if first else (lambda c: (1, height, width, c))
    bias_shape = (1, channels_out, 1, 1) if first else (1, 1, 1, channels_out)
    x, gradient = _random(shape(channels_in), dtype, seed), _random(shape(channels_out), dtype, seed + 1)
    kernel, bias = ops.cast(kernel, dtype), ops.reshape(ops.cast(bias, dtype), bias_shape)

    # The weights are constants of the traced functions (as the network's are): only images are arguments.
    def forward(x):
        return ops.relu(ops.conv(x, kernel, 1, "same", data_format) + bias)

    def input_gradient(gradient):
        return ops.conv_transpose(gradient, kernel, 1, "same", data_format=data_format)

    output = forward(x)
    return (timer.forward(forward, x), timer.forward(input_gradient, gradient),
            timer.forward(lambda y, g: ops.where(y > 0, g, ops.zeros_like(g)), output, gradient))


def convolution_peak(timer: _Timer, dtype: str, data_format: str) -> float:
    """GFLOP/s of PEAK_CONVOLUTION, the faster of its forward and its input gradient."""
    width, height, channels_in, channels_out = PEAK_CONVOLUTION
    kernel = _random((3, 3, channels_in, channels_out), "float32", 7) * 0.05
    forward, gradient, _ = _convolution_pieces(timer, kernel, ops.zeros((channels_out,)), height, width, dtype,
                                               data_format, 11)
    gflop = 2.0 * height * width * 9 * channels_in * channels_out / 1e9
    return gflop / min(forward, gradient)


def measured_convolution_peak(precision: str, rounds: int = 10) -> float:
    """This machine's convolution peak in `precision` ('float32', 'bfloat16', 'float16'), GFLOP/s (PEAK_CONVOLUTION)."""
    return convolution_peak(_Timer(rounds), precision, backends.active().DATA_FORMAT)


def profile_objective(objective: Any, image: Any, rounds: int = 5, passes: int = 2) -> Profile:
    """The profile of `objective`'s whole-image evaluation (objective/whole.py) at `image`'s size (a 1 x H x W x 3
    network image), in the precision its network computes in. Every piece is measured in each of `passes` passes
    and keeps its best: a moment the machine was busy elsewhere costs one pass, not the profile."""
    timer = _Timer(rounds)
    tensor = ops.convert_to_tensor(image)
    evaluations, measured = [], []
    for _ in range(passes):  # the evaluation timed before and after each pass, beside the pieces it is compared with
        evaluations.append(timer.best(lambda x: objective.loss_and_gradient(x)[2], (tensor,)))
        measured.append(_pieces(objective, image, timer))
    evaluations.append(timer.best(lambda x: objective.loss_and_gradient(x)[2], (tensor,)))
    pieces = tuple(Piece(same[0].layer, same[0].kind, min(piece.seconds for piece in same), same[0].gflop)
                   for same in zip(*measured))
    evaluation = min(evaluations)
    evaluation += timer.call_seconds  # the evaluation is one call: its cost is part of it
    dtype = _compute_dtype(objective.extractor)
    return Profile(dtype, int(image.shape[1]), int(image.shape[2]), pieces, evaluation,
                   sum(piece.gflop for piece in pieces), convolution_peak(timer, dtype, backends.active().DATA_FORMAT),
                   timer.call_seconds)


def _pieces(objective: Any, image: Any, timer: "_Timer") -> List[Piece]:
    """One pass over the evaluation's pieces (profile_objective)."""
    import keras

    model = objective.extractor  # the Keras model of a FeatureExtractor
    dtype = _compute_dtype(model)
    data_format = backends.active().DATA_FORMAT
    first = data_format == "channels_first"
    height, width = int(image.shape[1]), int(image.shape[2])
    pieces: List[Piece] = []
    outputs = set(model.output.keys()) if isinstance(model.output, dict) else set()
    read_by_terms = {name for term in objective.traced_terms for name in term.layers}
    h, w, channels = height, width, 3
    # The image into the network: its cast (and transpose), and its gradient's way back.
    if dtype != "float32":
        image_tensor = ops.convert_to_tensor(image)
        pieces.append(Piece("image", "casts", timer.forward(lambda x: ops.cast(x, dtype), image_tensor)
                            + timer.forward(lambda x: ops.cast(x, "float32"), ops.cast(image_tensor, dtype))))
    if first:
        pieces.append(Piece("image", "copies and sums", 2 * timer.forward(lambda x: ops.transpose(x, (0, 3, 1, 2)),
                                                                          ops.convert_to_tensor(image))))
    seed = 0
    for layer in model.layers:
        seed += 2
        if isinstance(layer, keras.layers.Conv2D):
            kernel = ops.convert_to_tensor(layer.kernel.value if hasattr(layer.kernel, "value") else layer.kernel)
            bias = ops.convert_to_tensor(layer.bias.value if hasattr(layer.bias, "value") else layer.bias)
            forward, gradient, relu = _convolution_pieces(timer, kernel, bias, h, w, dtype, data_format, seed)
            flop = 2.0 * h * w * 9 * channels * layer.filters / 1e9
            channels = layer.filters
            pieces += [Piece(layer.name, "convolution forward", forward, flop),
                       Piece(layer.name, "convolution input gradient", gradient, flop),
                       Piece(layer.name, "ReLU gradient", relu)]
            if ops.dtype(kernel) != dtype:  # weights held in another precision are cast on every call
                pieces.append(Piece(layer.name, "casts", timer.forward(lambda: (ops.cast(kernel, dtype),
                                                                                ops.cast(bias, dtype)))))
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            shape = (1, channels, h, w) if first else (1, h, w, channels)
            x = _random(shape, dtype, seed)
            pooled_shape = (1, channels, h // 2, w // 2) if first else (1, h // 2, w // 2, channels)
            cotangent = _random(pooled_shape, dtype, seed + 1)
            total = timer.with_gradient(lambda x, c: ops.sum(ops.cast(layer(x) * c, "float32")), x, cotangent)
            product = timer.forward(lambda p, c: ops.sum(ops.cast(p * c, "float32")), cotangent, cotangent)
            pieces.append(Piece(layer.name, "pooling", max(total - product, 0.0)))
            h, w = h // 2, w // 2
        else:
            continue
        if layer.name in outputs and layer.name in read_by_terms:
            pieces += _read_pieces(timer, objective, layer.name, (1, h, w, channels), dtype, first, seed)
    for term in objective.traced_terms:
        if not term.layers:
            pieces.append(Piece("image", "other terms", timer.with_gradient(
                lambda x, term=term: term.weighted(x, {}, {}, None), ops.convert_to_tensor(image))))
    return pieces


def _read_pieces(timer: _Timer, objective: Any, name: str, shape: Tuple[int, int, int, int], dtype: str,
                 first: bool, seed: int) -> List[Piece]:
    """The pieces of a layer a term reads: each term at the layer, forward and gradient, from the activation in the
    network's precision (the casts a term makes are its own), the activation's transpose to channels-last and back,
    and the sum of its two gradients (the term's and the next layer's)."""
    from neural_style.objective.terms import layer_guide

    _, h, w, channels = shape
    features = _random(shape, dtype, seed)
    pieces = []
    for term in objective.traced_terms:
        if name not in term.layers:
            continue
        target = objective.targets.get(term.name, {}).get(name)
        targets = {name: target} if target is not None else {}
        guide = layer_guide(objective.guides.get(term.name), name)

        def body(f, term=term, targets=targets, guide=guide):
            return term.weighted(None, {name: f}, targets, guide)

        kind = "style statistics" if term.split == "statistics" else "other terms"
        flop = 4.0 * h * w * channels * channels / 1e9 if kind == "style statistics" else 0.0
        pieces.append(Piece(name, kind, timer.with_gradient(body, features), flop))
    layout = (1, channels, h, w) if first else shape
    activation = _random(layout, dtype, seed + 1)
    copies = timer.forward(lambda a, b: a + b, activation, activation)
    if first:
        copies += 2 * timer.forward(lambda a: ops.transpose(a, (0, 2, 3, 1)), activation)
    pieces.append(Piece(name, "copies and sums", copies))
    return pieces


def profile_run(result: Any, rounds: int = 5) -> Profile:
    """The profile of a finished run's evaluation (an api.StyleResult) at its final size, from its final picture, in
    the precision and on the device and backend it ran on (whole-image, as every run's evaluation is at that size
    unless it tiled)."""
    from neural_style.features.network_input import preprocess
    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.objective.build import build_objective
    from neural_style.run.sources import prepare_images

    hardware = result.plan.hardware
    with backends.device_scope(hardware.device):
        extractor = build_feature_extractor(result.config, precision=hardware.precision)
        content, styles = prepare_images(result.config)
        picture = np.asarray(result.image)[..., :3]
        image = ops.convert_to_tensor(preprocess(picture))
        return profile_objective(build_objective(result.config, extractor, content, styles), image, rounds)


def _compute_dtype(model: Any) -> str:
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return layer.compute_dtype
    return "float32"


__all__ = ["KINDS", "PEAK_CONVOLUTION", "Piece", "Profile", "convolution_peak", "measured_convolution_peak",
           "profile_objective", "profile_run"]
