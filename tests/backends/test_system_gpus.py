"""NVIDIA GPUs as this machine's driver reports them, simulated: NVML (a fake pynvml), nvidia-smi (a fake on the
PATH); the start line's warning and `doctor`'s reason when TensorFlow leaves a card unused; memory growth; batch
workers one per card."""

import os
import stat
import sys
import types

import pytest

from neural_style.backends import system_gpus as gpus
from tests.helpers import FAST, IMAGES, refused

FAKE_SMI = """#!/bin/sh
# nvidia-smi, as a machine with one Tesla T4 answers this project's query
echo "0, Tesla T4, 15360, 14913"
"""


@pytest.fixture()
def fake_nvidia_smi(tmp_path, monkeypatch):
    """An nvidia-smi on the PATH that reports one Tesla T4 (and no NVML to ask first)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "nvidia-smi"
    script.write_text(FAKE_SMI)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "pynvml", None)
    return str(script)


def test_nvidia_smi_is_read_when_nvml_is_missing(fake_nvidia_smi):
    (card,) = gpus.system_gpus()
    assert (card.index, card.name, card.source) == (0, "Tesla T4", "nvidia-smi")
    assert card.total_bytes == 15360 * 2**20 and card.free_bytes == 14913 * 2**20
    assert gpus.gpu_for_device("/GPU:0") == card


def test_nvml_is_asked_first(monkeypatch):
    class Memory:
        total, free = 24e9, 20e9

    fake = types.SimpleNamespace(
        nvmlInit=lambda: None, nvmlShutdown=lambda: None, nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda index: index, nvmlDeviceGetName=lambda handle: f"GPU {handle}".encode(),
        nvmlDeviceGetMemoryInfo=lambda handle: Memory)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    found = gpus.system_gpus()
    assert [(g.index, g.name, g.free_bytes, g.source) for g in found] == [(0, "GPU 0", 20e9, "NVML"),
                                                                        (1, "GPU 1", 20e9, "NVML")]


def test_cuda_visible_devices_maps_tensorflows_index_to_the_drivers(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert gpus.visible_index(0) == 3 and gpus.visible_index(1) == 1 and gpus.visible_index(2) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpus.visible_index(0) is None  # no card is visible
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpus.visible_index(2) == 2


def test_a_card_tensorflow_leaves_unused_is_said_in_the_start_line(fake_nvidia_smi, small_images, capsys):
    """This TensorFlow sees no GPU (no CUDA here), while the driver reports a T4: the run says so, in one line."""
    from neural_style import stylize

    content, style = small_images
    result = stylize(content, style, **dict(FAST, iterations=1, quiet=False))
    err = capsys.readouterr().err
    assert result.device == "/CPU:0"
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warning == ["warning: this machine has Tesla T4 but TensorFlow computes on the CPU: run "
                       "`neural-style doctor` to see why"]
    stylize(content, style, device="/CPU:0", **dict(FAST, iterations=1, quiet=False))  # asked for: no warning
    assert "warning:" not in capsys.readouterr().err


def test_doctor_names_the_card_and_tensorflows_own_reason(fake_nvidia_smi, capsys):
    from neural_style.commands.cli import main

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA GPUs on this machine: GPU 0: Tesla T4, 15.6 of 16.1 GB free (nvidia-smi)" in out
    assert "TensorFlow uses none of them. What it says as it starts:" in out
    reasons = out.split("What it says as it starts:")[1].splitlines()[1:3]
    assert reasons and all(line.startswith("  ") for line in reasons)
    assert "/CPU:0: " in out and "largest --size" in out and "weights cache:" in out and "extras: video:" in out


def test_memory_growth_is_set_on_every_gpu_unless_turned_off(monkeypatch):
    import tensorflow as tf

    from neural_style.backends import tensorflow_backend as hardware

    cards = ["GPU:0", "GPU:1"]
    grown = []
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [types.SimpleNamespace(name=name) for name in cards])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: grown.append((gpu.name, on)))
    assert hardware.share_gpus() == cards and grown == [("GPU:0", True), ("GPU:1", True)]
    monkeypatch.setenv(hardware.MEMORY_GROWTH_VARIABLE, "0")
    grown.clear()
    assert hardware.share_gpus() == [] and grown == []


def test_batch_workers_get_a_card_each_and_more_workers_than_cards_are_refused(monkeypatch, tmp_path, capsys):
    from neural_style.batch import local_pool, run

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert local_pool.gpu_assignments(2) == ["2", "5"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert local_pool.gpu_assignments(3) == ["0", "1", "2"]
    monkeypatch.setattr(run, "gpu_count", lambda: 2)
    photo = os.path.join(IMAGES, "chelsea.jpg")
    refused(capsys, ["batch", "-o", str(tmp_path / "out"), "--contents", photo, "--styles", photo, "--workers", "3"],
            "--workers 3 but this machine has 2 GPUs", folder=str(tmp_path))
