"""Reliability: bad input gets one line and exit 2 with no file written; faults during a run keep
the picture; the same seed gives the same bytes; random and mutated files never crash the tool."""

import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from neural_style import NeuralStyleError, images, stylize
from neural_style.plan.memory import CPU_MODEL, plan_memory
from neural_style.commands.cli import main
from neural_style.commands.common import StopOnSignal


from tests.helpers import FAST, random_image, refused

FAST = dict(FAST, iterations=4)


def cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "neural_style", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


# --- bad input ------------------------------------------------------------------------------

def test_unreadable_file_is_named(tmp_path, small_images, monkeypatch, capsys):
    # CI runs as root, for whom every file is readable, so the permission check is faked here;
    # the next test takes a real path that cannot be opened.
    content, style = small_images
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if path == content else real_access(path, mode))
    refused(capsys, [content, style, "-o", str(tmp_path / "o.png")], "cannot be read (permission denied)",
            folder=str(tmp_path))


def test_an_image_path_under_a_file_is_named(tmp_path, small_images, capsys):
    content, style = small_images
    under_a_file = os.path.join(content, "photo.jpg")  # really unopenable, even for root
    refused(capsys, [under_a_file, style, "-o", str(tmp_path / "o.png")],
            f"content image {under_a_file!r} does not exist", folder=str(tmp_path))


def test_unwritable_output_folder_is_found_before_any_work(tmp_path, small_images, monkeypatch, capsys):
    # Faked for the same reason (root may write anywhere); test_cli has a real output path under a file.
    content, style = small_images
    folder = str(tmp_path / "locked")
    os.mkdir(folder)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if path == folder else real_access(path, mode))
    refused(capsys, [content, style, "-o", os.path.join(folder, "o.png")], "is not writable", folder=folder)


@pytest.mark.parametrize("kind", ["gif", "tiff", "webp", "png"])
def test_animation_or_multipage_file_uses_the_first_frame_and_says_so(tmp_path, kind):
    first = Image.fromarray(np.full((40, 40, 3), (250, 10, 10), np.uint8))
    second = Image.fromarray(np.full((40, 40, 3), (10, 10, 250), np.uint8))
    path = str(tmp_path / f"frames.{kind}")
    first.save(path, save_all=True, append_images=[second], **({"lossless": True} if kind == "webp" else {}))
    assert Image.open(path).n_frames == 2  # really animated (WebP and APNG need save_all)
    notes = []
    loaded = images.load_image(path, "content", notes.append)
    assert np.asarray(loaded)[..., 0].mean() > 200  # red: the first frame
    assert notes == [f"note: content image {path!r} has 2 frames; using the first"]


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = str(tmp_path / "bomb.png")
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(NeuralStyleError, match="decompression bomb guard"):
        images.load_image(path, "style")


def test_a_size_that_cannot_fit_in_memory_names_the_largest_that_does():
    with pytest.raises(NeuralStyleError) as error:
        plan_memory(20000, [(20000, 13333), (20000, 15000)], 10, tile_size=0, available=8e9)
    message = str(error.value)
    assert "needs about" in message and "8.0 GB is available" in message
    largest = int(message.split("use --size ")[1].split()[0])
    scale = largest / 20000  # the style image (20000 x 15000) is the larger one
    assert CPU_MODEL.whole(int(20000 * scale) * int(15000 * scale), 10) <= 8e9
    scale = (largest + 20) / 20000
    assert CPU_MODEL.whole(int(20000 * scale) * int(15000 * scale), 10) > 8e9
    plan_memory(256, [(256, 170), (256, 192)], 10, tile_size=0, available=8e9)  # fits: no error


def test_impossible_size_on_the_command_line_writes_nothing(tmp_path, small_images, capsys):
    content, style = small_images
    err = refused(capsys, [content, style, "-o", str(tmp_path / "o.png"), "--size", "200000"], "GB of memory",
                  folder=str(tmp_path))
    assert "use --size" in err


# --- faults during a run ---------------------------------------------------------------------

def _wait_for(path, process, seconds=240):
    deadline = time.time() + seconds
    while not os.path.exists(path):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "no snapshot appeared"
        time.sleep(0.1)


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_after_the_first_snapshot_saves_the_picture(tmp_path, small_images, signum, status):
    content, style = small_images
    output = str(tmp_path / "run.png")
    process = cli(content, style, "-o", output, "--size", "64", "--iterations", "2000",
                  "--snapshot-every", "2", "--print-every", "1000", "--no-xla")
    _wait_for(str(tmp_path / "run_at_iteration_2.png"), process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    assert "interrupted after" in err and output in err and "Traceback" not in err
    assert Image.open(output).size == (64, 42)
    with open(str(tmp_path / "run_log.csv")) as stream:
        rows = stream.read().splitlines()
    iterations = int(err.split("interrupted after ")[1].split()[0])
    assert len(rows) == 1 + iterations and iterations >= 2


def test_a_second_signal_quits_at_once(monkeypatch):
    exits = []
    monkeypatch.setattr(os, "_exit", lambda status: exits.append(status))
    stop = StopOnSignal()
    stop._handle(signal.SIGINT, None)
    assert stop() and exits == []
    stop._handle(signal.SIGINT, None)
    assert exits == [130]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / "picture.png")
    images.save_image(path, random_image(8, 8, seed=1))
    before = open(path, "rb").read()

    def half_then_crash(temporary):
        with open(temporary, "wb") as stream:
            stream.write(before[:10])
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        images.write_atomically(path, half_then_crash, suffix=".png")
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["picture.png"]


def test_a_final_image_that_cannot_be_written_is_saved_in_the_temp_folder(small_images, tmp_path, monkeypatch):
    import tempfile

    from neural_style import api

    content, style = small_images
    output = str(tmp_path / "out.png")
    real_save = images.save_image

    def disk_full_for_output(path, pixels):
        if path == output:
            raise OSError(28, "No space left on device", path)
        real_save(path, pixels)

    monkeypatch.setattr(api.images, "save_image", disk_full_for_output)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    os.mkdir(tmp_path / "temp")
    stream = io.StringIO()
    result = stylize(content, style, output, stream=stream, **dict(FAST, quiet=False))
    # A folder of the user's own, not a name others can guess or plant (other programs use the temp folder too).
    (folder,) = [name for name in os.listdir(tmp_path / "temp") if name.startswith("neural_style_")]
    fallback = str(tmp_path / "temp" / folder / "out.png")
    assert folder.startswith("neural_style_") and os.stat(tmp_path / "temp" / folder).st_mode & 0o077 == 0
    assert result.output == fallback and Image.open(fallback).size == (48, 32)
    assert "No space left on device" in stream.getvalue() and fallback in stream.getvalue()


def test_a_loss_that_overflows_names_the_term_and_writes_nothing(tmp_path, small_images):
    content, style = small_images
    output = str(tmp_path / "o.png")
    process = cli(content, style, "-o", output, "--size", "48", "--iterations", "5", "--tv-weight", "3e38",
                  "--no-xla")
    _, err = process.communicate(timeout=240)
    assert process.returncode == 1
    assert "the tv loss became inf" in err and "Traceback" not in err
    assert not os.path.exists(output)


def _breaks_when(monkeypatch, broken):
    """The loss NaN from the first evaluation at which `broken()` holds; returns a list that gets that evaluation's
    number (counted from 1, as the run's message counts)."""
    from neural_style.objective import whole

    real = whole.Objective.loss_and_gradient
    calls = {"n": 0}
    broken_at = []

    def breaking(self, image):
        calls["n"] += 1
        total, terms, gradient = real(self, image)
        if broken_at or broken():
            broken_at[:] = broken_at or [calls["n"]]
            total, terms = total * np.nan, terms * np.nan
        return total, terms, gradient

    monkeypatch.setattr(whole.Objective, "loss_and_gradient", breaking)
    return broken_at


def _breaks_after(monkeypatch, evaluations, break_loss=True, break_gradient=False):
    from neural_style.objective import whole

    real = whole.Objective.loss_and_gradient
    calls = {"n": 0}

    def breaking(self, image):
        calls["n"] += 1
        total, terms, gradient = real(self, image)
        if calls["n"] > evaluations:
            if break_loss:
                total, terms = total * np.nan, terms * np.nan
            if break_gradient:
                gradient = gradient * np.nan
        return total, terms, gradient

    monkeypatch.setattr(whole.Objective, "loss_and_gradient", breaking)


def test_a_loss_that_goes_bad_mid_run_keeps_the_last_good_image(small_images, monkeypatch):
    from neural_style.features.network_input import deprocess

    iterates = []
    # The loss breaks at the first evaluation after the second iteration finished: how many evaluations an
    # iteration takes depends on the CPU's rounding, so the break is pinned to iterations, not to a count.
    broken_at = _breaks_when(monkeypatch, lambda: len(iterates) >= 2)
    content, style = small_images
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, on_step=lambda step: iterates.append(step.image.copy()),
                     **dict(FAST, quiet=False, iterations=20))
    assert result.stop_reason == "failed" and result.iterations == 2 == len(iterates)
    assert result.error.startswith(f"the content and style and tv loss became nan at evaluation {broken_at[0]}")
    # The picture is the last finished iterate, not the starting image nor the broken trial point.
    np.testing.assert_array_equal(result.image, deprocess(iterates[-1].reshape(1, 32, 48, 3)))
    starting_image = np.asarray(Image.open(content).convert("RGB").resize((48, 32), Image.LANCZOS))
    assert not np.array_equal(result.image, starting_image)  # two iterations moved it
    assert "kept the last good image" in stream.getvalue()


def test_a_gradient_that_goes_bad_is_named_and_the_last_good_image_kept(small_images, monkeypatch, tmp_path):
    _breaks_after(monkeypatch, 3, break_loss=False, break_gradient=True)
    content, style = small_images
    output = str(tmp_path / "o.png")
    result = stylize(content, style, output, **dict(FAST, iterations=20))
    assert result.stop_reason == "failed"
    assert result.error.startswith("the gradient became NaN or infinite at evaluation 4: lower the loss weights")
    if result.iterations:  # the last good iterate is written, as after a signal
        assert result.output == output and os.path.exists(output)
    else:
        assert result.output is None and not os.path.exists(output)


# --- reproducibility --------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_output(tmp_path, small_images):
    content, style = small_images
    outputs = []
    for name in ("a.png", "b.png"):
        output = str(tmp_path / name)
        process = cli(content, style, "-o", output, "--size", "64", "--iterations", "8", "--seed", "3",
                      "--init", "random", "--snapshot-every", "0", "--quiet")
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        outputs.append(open(output, "rb").read())
    assert outputs[0] == outputs[1]


# --- fuzzing ----------------------------------------------------------------------------------

def _mutations(seed_bytes, count, rng):
    for _ in range(count):
        data = bytearray(seed_bytes)
        kind = rng.integers(3)
        if kind == 0:  # flip random bytes
            for position in rng.integers(0, len(data), size=int(rng.integers(1, 20))):
                data[position] = int(rng.integers(256))
        elif kind == 1:  # truncate
            data = data[: int(rng.integers(1, len(data)))]
        else:  # splice a random block in
            position = int(rng.integers(0, len(data)))
            data[position:position] = rng.bytes(int(rng.integers(1, 200)))
        yield bytes(data)


def test_fuzzed_inputs_either_load_or_get_a_one_line_error(tmp_path):
    """Random byte strings and mutated real PNG/JPEG/GIF/TIFF files through the input stage
    (load, convert, size checks): each gives an RGB image or a NeuralStyleError, never another
    exception, and none takes long. Files that load are stylised by the next test's sample."""
    rng = np.random.default_rng(2024)
    seeds = []
    for extension, options in (("png", {}), ("jpg", {"quality": 90}), ("gif", {}), ("tiff", {})):
        buffer = io.BytesIO()
        Image.fromarray(random_image(24, 32, seed=len(seeds))).save(buffer, format=Image.registered_extensions()[
            "." + extension], **options)
        seeds.append((extension, buffer.getvalue()))
    cases = [("bin", rng.bytes(int(rng.integers(0, 2000)))) for _ in range(150)]
    for extension, data in seeds:
        cases += [(extension, mutated) for mutated in _mutations(data, 60, rng)]

    outcomes = {}
    for index, (extension, data) in enumerate(cases):
        path = str(tmp_path / f"case{index}.{extension}")
        with open(path, "wb") as stream:
            stream.write(data)
        started = time.perf_counter()
        try:  # any exception but NeuralStyleError fails the test here
            image = images.load_image(path, "content")
            assert image.mode == "RGB" and image.width > 0 and image.height > 0
            outcomes[index] = "loaded"
        except NeuralStyleError as error:
            assert "\n" not in str(error) and path in str(error)
            outcomes[index] = "refused"
        assert time.perf_counter() - started < 5
    # Random bytes are never an image; some mutations (a flipped byte in pixel data) still load.
    assert all(outcomes[index] == "refused" for index in range(150))
    assert sum(outcome == "loaded" for outcome in outcomes.values()) >= 10


def test_mutated_files_that_load_are_stylised_end_to_end(tmp_path, small_images):
    """Mutated files through the whole command line: exit 0 with a picture, or exit 2 with nothing,
    the same answer the input stage gives for the file; with an intact and a cut file as controls."""
    _, style = small_images
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    Image.fromarray(random_image(48, 64, seed=9)).save(buffer, format="JPEG", quality=90)
    intact = buffer.getvalue()
    cases = [intact, intact[:40], *_mutations(intact, 4, rng)]
    statuses = []
    for index, data in enumerate(cases):
        path = str(tmp_path / f"mutant{index}.jpg")
        with open(path, "wb") as stream:
            stream.write(data)
        try:
            images.load_image(path)
            expected = 0
        except NeuralStyleError:
            expected = 2
        output = str(tmp_path / f"out{index}.png")
        status = main([path, style, "-o", output, "--size", "32", "--iterations", "2", "--snapshot-every", "0",
                       "--quiet", "--no-xla"])
        assert status == expected and os.path.exists(output) == (status == 0)
        statuses.append(status)
    assert statuses[:2] == [0, 2]
