"""Which backend `auto` takes on simulated machines, and the refusals: a backend not installed, a second backend in one
process, a device the backend does not have."""

import pytest

from neural_style import backends
from neural_style.backends import BackendChoice, Platform, choose_backend
from neural_style.errors import NeuralStyleError
from tests.helpers import IMAGES, refused

EVERYTHING = {"tensorflow": True, "torch": True, "jax": True}


def machine(system="Linux", processor="x86_64", installed=None, nvidia=False, rocm=False) -> Platform:
    return Platform(system, processor, dict(EVERYTHING if installed is None else installed), nvidia, rocm)


def test_tensorflow_is_auto_s_choice_where_it_can_serve():
    assert choose_backend(platform=machine(), environment={}).name == "tensorflow"  # a CPU
    assert choose_backend(platform=machine(nvidia=True), environment={}).name == "tensorflow"  # Linux with CUDA
    assert choose_backend(platform=machine("Windows", "AMD64"), environment={}).name == "tensorflow"  # no GPU


@pytest.mark.parametrize("where, reason", [
    (machine("Windows", "AMD64", nvidia=True), "native Windows with an NVIDIA card"),
    (machine("Darwin", "arm64"), "Apple silicon"),
    (machine(rocm=True), "an AMD card with ROCm"),
])
def test_auto_takes_pytorch_where_only_it_can_use_the_gpu(where, reason):
    choice = choose_backend(platform=where, environment={})
    assert choice.name == "torch" and reason in choice.why and choice.why.startswith("auto: ")


def test_without_pytorch_such_a_machine_computes_on_the_cpu_and_is_told_what_to_install():
    choice = choose_backend(platform=machine("Windows", "AMD64", {"tensorflow": True}, nvidia=True), environment={})
    assert choice.name == "tensorflow" and "neural-style-keras[torch]" in choice.advice
    assert "neural-style-keras[torch]" in choice.describe()


def test_without_tensorflow_auto_takes_pytorch_then_jax():
    assert choose_backend(platform=machine(installed={"torch": True, "jax": True}), environment={}).name == "torch"
    assert choose_backend(platform=machine(installed={"jax": True}), environment={}).name == "jax"
    with pytest.raises(NeuralStyleError, match="no backend installed"):
        choose_backend(platform=machine(installed={}), environment={})


def test_keras_backend_is_honoured_and_checked():
    assert choose_backend(platform=machine(), environment={"KERAS_BACKEND": "jax"}) == BackendChoice(
        "jax", "KERAS_BACKEND=jax")
    with pytest.raises(NeuralStyleError, match="KERAS_BACKEND=numpy is not a backend this tool runs on"):
        choose_backend(platform=machine(), environment={"KERAS_BACKEND": "numpy"})
    with pytest.raises(NeuralStyleError, match=r"needs jax, which is not installed: pip install 'neural-style-keras\[jax\]'"):
        choose_backend(platform=machine(installed={"tensorflow": True}), environment={"KERAS_BACKEND": "jax"})


def test_asking_for_a_backend_not_installed_names_the_extra():
    with pytest.raises(NeuralStyleError, match=r"--backend torch needs torch, .*neural-style-keras\[torch\]"):
        choose_backend("torch", platform=machine(installed={"tensorflow": True}))
    assert choose_backend("jax", platform=machine()) == BackendChoice("jax", "asked for")
    assert choose_backend("auto", platform=machine(), loaded="torch").name == "torch"  # a process runs one


def test_the_command_line_refuses_a_missing_backend_in_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(backends, "this_platform", lambda: machine(installed={"tensorflow": True}))
    photo = f"{IMAGES}/chelsea.jpg"
    refused(capsys, [photo, photo, "-o", str(tmp_path / "out.png"), "--backend", "jax"],
            "--backend jax needs jax, which is not installed", folder=str(tmp_path))
    refused(capsys, [photo, photo, "-o", str(tmp_path / "out.png"), "--backend", "mxnet"], "invalid choice",
            folder=str(tmp_path))


def test_a_second_backend_in_one_process_is_refused(monkeypatch):
    monkeypatch.setattr(backends, "loaded_backend", lambda: "tensorflow")
    monkeypatch.setattr(backends, "this_platform", lambda: machine())  # PyTorch installed or not
    with pytest.raises(NeuralStyleError, match="this process computes on tensorflow .*--backend torch needs a new "
                                               "process"):
        backends.activate("torch")


def test_devices_are_named_alike_on_every_backend(monkeypatch):
    from neural_style.backends import hardware
    from neural_style.backends import torch_backend

    assert [torch_backend.torch_device(name) for name in ("/GPU:1", "/MPS:0", "/CPU:0")] == ["cuda:1", "mps", "cpu"]
    monkeypatch.setattr(backends, "active", lambda: type("Simulated", (), {
        "devices": staticmethod(lambda: ["/CPU:0", "/GPU:0", "/GPU:1"])}))
    assert hardware.resolve_device(None) == "/GPU:0"
    assert hardware.resolve_device("cuda:1") == "/GPU:1" and hardware.resolve_device("/device:gpu:1") == "/GPU:1"
    monkeypatch.setattr(backends, "active", lambda: type("Simulated", (), {
        "devices": staticmethod(lambda: ["/CPU:0", "/MPS:0"])}))
    assert hardware.resolve_device(None) == "/MPS:0"  # an Apple GPU, through PyTorch
    assert hardware.native_precision("/MPS:0")[0] == "float32"


def test_the_compiler_is_the_backend_s():
    from neural_style.backends.hardware import Hardware, resolve_xla

    assert Hardware("/CPU:0", "float32", "asked for", False).compiler == "graph"
    assert Hardware("/GPU:0", "float32", "asked for", True).compiler == "XLA"
    assert Hardware("/CPU:0", "float32", "asked for", True, backend="torch").compiler == "torch.compile"
    assert Hardware("/CPU:0", "float32", "asked for", False, backend="jax").compiler == "jax.jit"
    assert resolve_xla(None, "/GPU:0", False, "tensorflow") and not resolve_xla(None, "/GPU:0", False, "torch")
    assert not resolve_xla(True, "/GPU:0", True, "torch")  # never for a seeded run


def test_wasserstein_on_an_apple_gpu_is_refused_in_one_line():
    """MPS has no float64, which the Wasserstein term's eigendecomposition needs: refused before any work."""
    from neural_style.config import StyleConfig
    from neural_style.backends.hardware import Hardware
    from neural_style.plan.run_plan import plan_run

    apple = Hardware("/MPS:0", "float32", "asked for", False, backend="torch")
    with pytest.raises(NeuralStyleError, match="Apple GPUs \\(MPS\\) do not have: use --style-loss gram or sliced"):
        plan_run(StyleConfig(style_loss="wasserstein", size=64), apple, (64, 48), [(64, 48)], 8e9)
    assert plan_run(StyleConfig(style_loss="gram", size=64), apple, (64, 48), [(64, 48)], 8e9).scales


def test_the_start_line_says_what_to_install_for_the_gpu(monkeypatch):
    """Native Windows with an NVIDIA card and no PyTorch: TensorFlow computes on the CPU, and the run says how to get
    the card."""
    from neural_style.config import StyleConfig
    from neural_style.backends.hardware import resolve_hardware

    monkeypatch.setattr(backends, "this_platform", lambda: machine("Windows", "AMD64", {"tensorflow": True},
                                                                    nvidia=True))
    monkeypatch.setattr(backends, "loaded_backend", lambda: None)
    monkeypatch.setattr(backends, "_CHOSEN", {})
    monkeypatch.setattr(backends, "module", lambda name: type("Started", (), {
        "start": staticmethod(lambda: None), "devices": staticmethod(lambda: ["/CPU:0"]),
        "COMPILERS": {"graph": "graph", "xla": "XLA"}}))
    monkeypatch.setattr(backends, "active", lambda: backends.module("tensorflow"))
    hardware = resolve_hardware(StyleConfig(precision="float32"))
    assert hardware.backend == "tensorflow" and "neural-style-keras[torch]" in hardware.backend_why
    assert "for the GPU (native Windows with an NVIDIA card)" in hardware.describe()
