"""The command line, end to end with the real Gatys weights, and its answers to bad input."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from neural_style.cli import main


def run_cli(*args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "neural_style", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def content_loss_of(vgg19, image_path, other_pixels):
    """Unweighted content loss (block4_conv2) between an image file and other pixels."""
    import tensorflow as tf

    from neural_style.losses import content_loss
    from neural_style.model import feature_extractor
    from neural_style.network_input import preprocess

    extractor = feature_extractor(vgg19, ["block4_conv2"])
    target = extractor(preprocess(np.asarray(Image.open(image_path).convert("RGB"))))["block4_conv2"]
    features = extractor(preprocess(other_pixels))["block4_conv2"]
    return float(content_loss(tf.constant(features), tf.constant(target)))


def test_end_to_end_run_writes_output_snapshots_and_log(tmp_path, small_images, vgg19):
    content, style = small_images
    output = tmp_path / "result.png"
    finished = run_cli(content, style, "-o", str(output), "--size", "128", "--iterations", "40",
                       "--snapshot-every", "10", "--print-every", "10")
    assert finished.returncode == 0, finished.stderr
    assert "device /CPU:0" in finished.stderr or "device /GPU:0" in finished.stderr
    assert "Traceback" not in finished.stderr

    assert Image.open(output).size == (128, 85)
    snapshots = sorted(p.name for p in tmp_path.glob("result_at_iteration_*.png"))
    assert snapshots == [f"result_at_iteration_{n}.png" for n in (10, 20, 30, 40)]
    with open(tmp_path / "result_log.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 41))
    assert list(rows[0]) == ["iteration", "evaluations", "seconds", "total", "content", "style", "tv"]
    evaluations = [int(r["evaluations"]) for r in rows]
    assert evaluations == sorted(evaluations) and evaluations[-1] >= 40

    first, last = rows[0], rows[-1]
    for row in (first, last):
        parts = float(row["content"]) + float(row["style"]) + float(row["tv"])
        assert float(row["total"]) == pytest.approx(parts, rel=1e-4)
    assert float(last["style"]) <= 0.5 * float(first["style"])  # the style is learnt ...

    # ... while the content stays recognisable. Measured at this size: the result scores about 6.6,
    # noise 10.2, and a run with --content-weight 0 (content ignored) 11.3.
    result = np.asarray(Image.open(output).convert("RGB"))
    noise = np.random.default_rng(0).integers(0, 256, result.shape, dtype=np.uint8)
    assert content_loss_of(vgg19, content, result) < 0.75 * content_loss_of(vgg19, content, noise)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_help_documents_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--size", "--style-scale", "--weights", "--content-layers", "--style-layers",
                 "--style-layer-weights", "--content-weight", "--style-weight", "--tv-weight",
                 "--optimizer", "--iterations", "--learning-rate", "--init", "--seed", "--device",
                 "--snapshot-every", "--quiet", "--original-colors", "--pooling", "--style-blend-weights"):
        assert flag in text
    assert "default: 512" in text and "default: 500" in text


def status_of(argv):
    """Exit status of the CLI, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--size", "0"], "--size must be an integer >= 1"),
        (["--iterations", "-5"], "--iterations must be an integer >= 1"),
        (["--style-weight", "nan"], "--style-weight must be a finite number"),
        (["--content-weight", "-1"], "--content-weight must be a finite number >= 0"),
        (["--snapshot-every", "-1"], "--snapshot-every must be an integer >= 0"),
        (["--style-layers", "block1_conv1,block7_conv9"], "unknown style layer 'block7_conv9': valid"),
        (["--style-blend-weights", "1,2"], "--style-blend-weights has 2 values but 1 style images"),
        (["--weights", "missing.h5"], "neither 'gatys', 'imagenet' nor an existing file"),
        (["--optimizer", "sgd"], "invalid choice"),
        (["--size", "big"], "invalid int value"),
    ],
)
def test_bad_flags_get_one_line_and_status_2(tmp_path, small_images, capsys, extra, message):
    content, style = small_images
    output = tmp_path / "out.png"
    assert status_of([content, style, "-o", str(output), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not output.exists()


def test_missing_image_and_bad_output_folder(tmp_path, small_images, capsys):
    content, style = small_images
    assert main([str(tmp_path / "nope.jpg"), style, "-o", str(tmp_path / "o.png")]) == 2
    assert "content image" in (err := capsys.readouterr().err) and "does not exist" in err
    assert main([content, style, "-o", str(tmp_path / "no" / "such" / "o.png")]) == 2
    err = capsys.readouterr().err
    assert "output folder" in err and "does not exist" in err


def test_image_too_small_for_the_deepest_layer(tmp_path, small_images, capsys):
    content, style = small_images
    output = tmp_path / "o.png"
    assert main([content, style, "-o", str(output), "--size", "12"]) == 2
    assert "needs at least 16 px" in capsys.readouterr().err
    assert not output.exists()


def test_unknown_device_lists_the_devices(tmp_path, small_images, capsys):
    content, style = small_images
    assert main([content, style, "-o", str(tmp_path / "o.png"), "--device", "/TPU:7", "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown device '/TPU:7'" in err and "/CPU:0" in err
