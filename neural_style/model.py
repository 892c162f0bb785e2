"""Features: Keras's VGG19 with weights loaded, cut after the deepest layer the losses read.
Its input convention (Caffe: BGR, 0-255, ImageNet mean subtracted) is in network_input.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Tuple

from .weights import load_vgg19_weights

if TYPE_CHECKING:
    from .config import StyleConfig


def build_vgg19(weights: str, cache_dir: Optional[str] = None, notify: Optional[Callable[[str], None]] = None
                ) -> Any:
    """Keras VGG19 without top, any input size, with weights from `weights` ('gatys', 'imagenet' or a file)."""
    import keras

    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    load_vgg19_weights(vgg, weights, cache_dir, notify)
    return vgg


def feature_extractor(vgg: Any, layer_names: Sequence[str], pooling: str = "max") -> Any:
    """A model from the image to {layer name: activation}, built from `vgg`'s own layers up to
    the deepest one named, so no layer runs that no loss reads. `pooling='avg'` swaps each max
    pooling for average pooling (Gatys et al. found it gives smoother results)."""
    import keras

    wanted = set(layer_names)
    names = [layer.name for layer in vgg.layers]
    missing = wanted.difference(names)
    if missing:
        raise ValueError(f"VGG19 has no layer(s) {sorted(missing)}")
    deepest = max(names.index(name) for name in wanted)

    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = inputs
    outputs = {}
    for layer in vgg.layers[1 : deepest + 1]:
        if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
            x = keras.layers.AveragePooling2D(pool_size=2, strides=2, name=layer.name + "_avg")(x)
        else:
            x = layer(x)
        if layer.name in wanted:
            outputs[layer.name] = x
    return keras.Model(inputs, outputs, name="vgg19_features")


def deepest_downsampling(layer_names: Sequence[str]) -> int:
    """How many 2x poolings lie before the deepest of `layer_names` (block N has N - 1)."""
    return max(int(name.split("_")[0][len("block") :]) for name in layer_names) - 1


@dataclass(frozen=True)
class FeatureExtractor:
    """The truncated VGG19 a run reads its features from, and what it was built for. Building it
    (weights, truncation, pooling) is the slow part of a start: build it once per process and give
    it to every run, scale, frame or job whose configuration `matches` it."""

    model: Any  # keras.Model: 1 x H x W x 3 network image -> {layer name: activation}
    weights: str
    pooling: str
    layers: Tuple[str, ...]

    def matches(self, config: "StyleConfig") -> bool:
        """Whether a run with `config` reads exactly these weights, pooling and layers."""
        return (self.weights, self.pooling, self.layers) == (config.weights, config.pooling, layers_used(config))


def layers_used(config: "StyleConfig") -> Tuple[str, ...]:
    """The content layers, then the style layers, without repeats."""
    return tuple(dict.fromkeys(tuple(config.content_layers) + tuple(config.style_layers)))


def build_feature_extractor(config: "StyleConfig", notify: Optional[Callable[[str], None]] = None
                            ) -> FeatureExtractor:
    """VGG19 with `config`'s weights, cut after the deepest layer its losses read, with its pooling."""
    vgg = build_vgg19(config.weights, config.cache_dir, notify)
    layers = layers_used(config)
    return FeatureExtractor(feature_extractor(vgg, layers, config.pooling), config.weights, config.pooling, layers)
