"""Features: Keras's VGG19 with weights loaded, cut after the deepest layer the losses read.
Its input convention (Caffe: BGR, 0-255, ImageNet mean subtracted) is in network_input.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple

from neural_style import backends
from neural_style.config import FEED_FORWARD_METHOD, StyleConfig
from neural_style.features.weights import load_vgg19_weights
from neural_style.backends.hardware import resolve_hardware


def build_vgg19(weights: str, cache_dir: Optional[str] = None, notify: Optional[Callable[[str], None]] = None
                ) -> Any:
    """Keras VGG19 without top, any input size, with weights from `weights` ('gatys', 'imagenet' or a file)."""
    import keras

    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    load_vgg19_weights(vgg, weights, cache_dir, notify)
    return vgg


# Keras's dtype policy for each precision a run may resolve to: float32 weights, the arithmetic in the named type.
KERAS_POLICIES = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def keras_policy(precision: str) -> Optional[str]:
    """The Keras dtype policy that computes in `precision` (None: Keras's float32 default)."""
    return KERAS_POLICIES.get(precision)


def feature_extractor(vgg: Any, layer_names: Sequence[str], pooling: str = "max", precision: str = "float32",
                      data_format: str = "channels_last") -> Any:
    """A model from the image to {layer name: float32 activation}, built from `vgg`'s layers up to
    the deepest one named, so no layer runs that no loss reads. `pooling='avg'` swaps each max
    pooling for average pooling (Gatys et al. found it gives smoother results). `precision='bfloat16'` runs the
    layers in bfloat16 with the weights held in bfloat16 (never trained: the copy computes what mixed precision's cast
    on every call would, without the casts); 'float16' under Keras's mixed policy (float32 weights). The activations
    are handed out in the network's precision: each term casts to float32 what it needs (terms.at_least_float32), and the
    Gram matrices multiply bfloat16 activations as they are. With
    `data_format='channels_first'` (the backend's own order: PyTorch's) the layers compute channels-first between
    one conversion of the image and one of each activation handed out, channels-last as always."""
    import keras

    wanted = set(layer_names)
    names = [layer.name for layer in vgg.layers]
    missing = wanted.difference(names)
    if missing:
        raise ValueError(f"VGG19 has no layer(s) {sorted(missing)}")
    deepest = max(names.index(name) for name in wanted)
    policy = "bfloat16" if precision == "bfloat16" else keras_policy(precision)

    first = data_format == "channels_first"
    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = keras.ops.transpose(inputs, (0, 3, 1, 2)) if first else inputs
    outputs = {}
    for layer in vgg.layers[1 : deepest + 1]:
        if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
            x = keras.layers.AveragePooling2D(pool_size=2, strides=2, name=layer.name + "_avg", dtype=policy,
                                              data_format=data_format)(x)
        elif policy is not None or first:
            x = _rebuilt(layer, policy, data_format)(x)
        else:
            x = layer(x)
        if layer.name in wanted:
            value = keras.ops.transpose(x, (0, 2, 3, 1)) if first else x
            outputs[layer.name] = value
    model = keras.Model(inputs, outputs, name="vgg19_features")
    model.trainable = False  # gradients are taken of the picture alone (PyTorch would otherwise keep the weights')
    return model


def _rebuilt(layer: Any, policy: Optional[str], data_format: str) -> Any:
    """A copy of one of VGG19's layers (a 3x3 convolution or a pooling) under another dtype policy or channel order,
    sharing nothing but the weights' values (a kernel is laid out alike in either order). Built from the layer's
    attributes, not its serialised config: Keras's serialisation imports TensorFlow where it is installed, whatever
    the backend."""
    import keras

    if isinstance(layer, keras.layers.Conv2D):
        copy = keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                                   activation=layer.activation, use_bias=layer.use_bias, name=layer.name, dtype=policy,
                                   data_format=data_format)
        _, height, width, channels = layer.input.shape
        copy.build((None, channels, height, width) if data_format == "channels_first" else layer.input.shape)
        copy.set_weights(layer.get_weights())
        return copy
    if isinstance(layer, keras.layers.MaxPooling2D):
        return keras.layers.MaxPooling2D(layer.pool_size, layer.strides, layer.padding, name=layer.name, dtype=policy,
                                         data_format=data_format)
    raise ValueError(f"VGG19 has no layer like {layer.name} ({type(layer).__name__})")


def block_number(layer_name: str) -> int:
    """N of a VGG19 layer named blockN_...: block N lies after N - 1 2x poolings."""
    return int(layer_name.split("_")[0][len("block"):])


def layer_stride(layer_name: str) -> int:
    """How many image pixels one activation of a VGG19 layer steps over (block N: 2**(N-1))."""
    return 2 ** (block_number(layer_name) - 1)


def deepest_downsampling(layer_names: Sequence[str]) -> int:
    """How many 2x poolings lie before the deepest of `layer_names`."""
    return max(block_number(name) for name in layer_names) - 1


@dataclass(frozen=True)
class FeatureExtractor:
    """The truncated VGG19 a run reads its features from, and what it was built for. Building it
    (weights, truncation, pooling) is the slow part of a start: build it once per process and give
    it to every run, scale, frame or job whose configuration `matches` it."""

    model: Any  # keras.Model: 1 x H x W x 3 network image -> {layer name: activation in `precision`}
    weights: str
    pooling: str
    layers: Tuple[str, ...]
    precision: str = "float32"

    def matches(self, config: "StyleConfig", precision: str) -> bool:
        """Whether a run with `config`, computing in `precision` (resolved), reads exactly these weights,
        pooling and layers, in this precision."""
        return ((self.weights, self.pooling, self.layers, self.precision)
                == (config.weights, config.pooling, layers_used(config), precision))


def layers_used(config: "StyleConfig") -> Tuple[str, ...]:
    """The content layers, then the style layers, without repeats."""
    return tuple(dict.fromkeys(tuple(config.content_layers) + tuple(config.style_layers)))


class SharedExtractors:
    """The networks of many runs in one process (a contact sheet's cells, the studio's pictures): each built once
    per weights, pooling, layers and precision, and handed to every run that matches it."""

    def __init__(self) -> None:
        self._built: list = []

    def for_config(self, config: "StyleConfig") -> Optional["FeatureExtractor"]:
        """The network a run of `config` can use (None for --method adain, which needs none)."""
        if config.method == FEED_FORWARD_METHOD:
            return None
        hardware = resolve_hardware(config)
        for extractor in self._built:
            if extractor.matches(config, hardware.precision):
                return extractor
        with backends.device_scope(hardware.device):
            extractor = build_feature_extractor(config, precision=hardware.precision)
        self._built.append(extractor)
        return extractor


def build_feature_extractor(config: "StyleConfig", notify: Optional[Callable[[str], None]] = None,
                            vgg: Any = None, precision: Optional[str] = None) -> FeatureExtractor:
    """VGG19 with `config`'s weights, cut after the deepest layer its terms read, with its pooling, in
    `precision` ('float32', 'bfloat16' or 'float16'; default `config.precision`, where 'auto' counts as float32 —
    a run passes the precision its hardware resolved). `vgg` reuses a network already loaded."""
    precision = precision or config.precision
    precision = precision if precision in KERAS_POLICIES else "float32"
    vgg = vgg or build_vgg19(config.weights, config.cache_dir, notify)
    layers = layers_used(config)
    model = feature_extractor(vgg, layers, config.pooling, precision, backends.active().DATA_FORMAT)
    return FeatureExtractor(model, config.weights, config.pooling, layers, precision)
