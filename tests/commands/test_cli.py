"""The command line, end to end with the real Gatys weights, and its answers to bad input."""

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from neural_style.commands.cli import main

from tests.helpers import refused


def run_cli(*args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "neural_style", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def content_loss_of(vgg19, image_path, other_pixels):
    """Unweighted content loss (block4_conv2) between an image file and other pixels."""
    import tensorflow as tf

    from neural_style.objective.content import content_loss
    from neural_style.features.vgg19 import feature_extractor
    from neural_style.features.network_input import preprocess

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
    assert "tensorflow (auto: the design's backend) on /CPU:0" in finished.stderr or "on /GPU:0" in finished.stderr
    assert "Traceback" not in finished.stderr

    assert Image.open(output).size == (128, 85)
    snapshots = sorted(p.name for p in tmp_path.glob("result_at_iteration_*.png"))
    assert snapshots == [f"result_at_iteration_{n}.png" for n in (10, 20, 30, 40)]
    with open(tmp_path / "result_log.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 41))
    assert list(rows[0]) == ["iteration", "evaluations", "seconds", "total", "content", "style", "tv", "width",
                             "height"]
    assert {(r["width"], r["height"]) for r in rows} == {("128", "85")}
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


# StyleConfig fields that only a preset sets (no flag of their own) or that only the API sets.
NOT_FLAGS = {"sizing", "style_normalization", "adam_space", "cache_dir"}


def test_every_config_field_has_a_flag_and_every_flag_reaches_the_config():
    from dataclasses import fields

    from neural_style.commands.stylize import build_parser
    from neural_style.config import StyleConfig, WatchOptions

    parser = build_parser()
    destinations = {action.dest for action in parser._actions} - {"help", "preset"}
    assert destinations == {f.name for f in fields(StyleConfig) + fields(WatchOptions)} - NOT_FLAGS


def test_help_documents_every_option_once_with_its_default_in_flag_form(capsys):
    from neural_style.commands.stylize import build_parser

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrap argparse's line breaks
    for action in build_parser()._actions:
        assert any(option in text for option in action.option_strings or [action.metavar or action.dest])
        switch = action.nargs == 0  # --quiet, --no-xla, --no-log, --original-colors, --help
        if not switch and action.option_strings:
            assert action.help and action.help.count("(default:") == 1, action.option_strings
    # argparse may break a long word anywhere: the layer list is compared without white space.
    assert "(default:block1_conv1,block2_conv1,block3_conv1,block4_conv1,block5_conv1)" in "".join(text.split())
    for fragment in ("--size PX", "(default: 512)", "(default: 500)", "(default: block4_conv2)",
                     "(default: 1e5 with --weights gatys, 100 with imagenet or a FILE; with --style-loss wasserstein: 1 and 0.03; with --style-loss sliced: 5 and 0.15)",
                     "(default: 0.001 with --weights gatys, 0.03 with imagenet or a FILE)", "(default: out.png)"):
        assert fragment in text, fragment
    assert "None" not in text and "['" not in text
    assert not re.search(r"\(default: [^)]*\) \(default", text)  # as "(default: equal) (default: None)" was


def parsed(*argv):
    from neural_style.commands.stylize import build_parser, config_from_args

    config, watch = config_from_args(build_parser().parse_args(list(argv)))
    return Asked(config, watch)


class Asked:
    """A StyleConfig and its WatchOptions read as one: each field from whichever holds it."""

    def __init__(self, config, watch):
        self.config, self.watch = config, watch

    def __getattr__(self, name):
        return getattr(self.watch if hasattr(self.watch, name) else self.config, name)


def test_flags_reach_the_config():
    config = parsed("c.jpg", "s1.jpg", "s2.jpg", "-o", "x.png", "--size", "64", "--style-blend-weights", "1,3",
                    "--content-layers", "block3_conv1", "--style-layer-weights", "1,2,3,4,5", "--no-xla",
                    "--no-log", "--print-every", "7", "--lbfgs-history", "4", "--tv-weight", "0")
    assert (config.content, config.styles, config.output, config.size) == ("c.jpg", ("s1.jpg", "s2.jpg"), "x.png", 64)
    assert config.style_blend_weights == (1.0, 3.0) and config.content_layers == ("block3_conv1",)
    assert config.style_layer_weights == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert (config.xla, config.log, config.print_every, config.lbfgs_history, config.tv_weight) == (False, False, 7, 4, 0)
    defaults = parsed("c.jpg", "s.jpg")
    assert (defaults.output, defaults.size, defaults.xla, defaults.log, defaults.tv_weight) == ("out.png", 512, None,
                                                                                              True, None)
    assert parsed("c.jpg", "s.jpg", "--xla").xla is True
    speed = parsed("c.jpg", "s.jpg", "--precision", "float32", "--scales", "3", "--tolerance", "0")
    assert (speed.precision, speed.scales, speed.tolerance) == ("float32", 3, 0.0)
    assert parsed("c.jpg", "s.jpg", "--scales", "auto").scales == "auto"


def test_preset_reference_from_the_command_line_and_flags_given_too_win():
    from neural_style.config import PRESETS

    config = parsed("c.jpg", "s.jpg", "--preset", "reference")
    for name, value in PRESETS["reference"].items():
        assert getattr(config, name) == (tuple(value) if isinstance(value, tuple) else value), name
    assert config.size == 224 and config.sizing == "reference" and config.tv_weight == 0.0
    mixed = parsed("c.jpg", "s.jpg", "--size", "96", "--preset", "reference", "--style-weight", "7",
                   "--style-layer-weights", "1,1,1,1,1")
    assert (mixed.size, mixed.style_weight, mixed.style_layer_weights) == (96, 7.0, (1.0,) * 5)
    assert mixed.sizing == "reference" and mixed.learning_rate == 0.001  # the preset's other values stay


def test_compare_is_dispatched_and_needs_torch(monkeypatch, capsys, small_images, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--help"])
    assert exit_.value.code == 0 and "usage: neural-style compare" in capsys.readouterr().out
    import neural_style

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    # The reference is imported afresh (another test may have imported it with torch present).
    monkeypatch.delitem(sys.modules, "neural_style.reference", raising=False)
    monkeypatch.delattr(neural_style, "reference", raising=False)
    content, style = small_images
    refused(capsys, ["compare", content, style, "-o", str(tmp_path / "cmp")],
            "neural-style compare: error: the PyTorch reference needs torch: pip install -e .[reference]",
            folder=str(tmp_path))


def test_benchmark_is_dispatched(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["benchmark", "--help"])
    assert exit_.value.code == 0 and "usage: neural-style benchmark" in capsys.readouterr().out


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
        (["--init", "no-such-snapshot.png"], "--init 'no-such-snapshot.png' is neither 'content', 'random', 'adain' nor"),
        (["--preset", "fast"], "invalid choice: 'fast'"),
    ],
)
def test_bad_flags_get_one_line_and_status_2(tmp_path, small_images, capsys, extra, message):
    content, style = small_images
    refused(capsys, [content, style, "-o", str(tmp_path / "out.png"), *extra], message, folder=str(tmp_path))


def test_missing_image_and_bad_output_folder(tmp_path, small_images, capsys):
    content, style = small_images
    refused(capsys, [str(tmp_path / "nope.jpg"), style, "-o", str(tmp_path / "o.png")], "does not exist",
            folder=str(tmp_path))
    err = refused(capsys, [content, style, "-o", str(tmp_path / "no" / "such" / "o.png")], "does not exist",
                  folder=str(tmp_path))
    assert "output folder" in err


@pytest.mark.parametrize(
    "output, message",
    [
        ("out.xyz", "has no image extension Pillow can write"),
        ("folder.png", "is a folder"),
        ("a-file/out.png", "does not exist"),  # a path under a file: its folder cannot exist
    ],
)
def test_bad_output_paths_are_refused_before_any_work(tmp_path, small_images, capsys, output, message):
    content, style = small_images
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    refused(capsys, [content, style, "-o", str(tmp_path / output), "--iterations", "1"], message, folder=str(tmp_path))


def test_image_too_small_for_the_deepest_layer(tmp_path, small_images, capsys):
    content, style = small_images
    refused(capsys, [content, style, "-o", str(tmp_path / "o.png"), "--size", "12"], "needs at least 16 px",
            folder=str(tmp_path))


def test_unknown_device_lists_the_devices(tmp_path, small_images, capsys):
    content, style = small_images
    err = refused(capsys, [content, style, "-o", str(tmp_path / "o.png"), "--device", "/TPU:7", "--iterations", "1"],
                  "unknown device '/TPU:7'", folder=str(tmp_path))
    assert "/CPU:0" in err


@pytest.mark.parametrize("command", [[], ["video"], ["batch"], ["compare"], ["benchmark"], ["sheet"], ["studio"],
                                     ["doctor"]])
def test_every_command_takes_the_common_flags_from_one_definition(command, capsys):
    from neural_style.commands.flags import add_common_flags
    from neural_style.commands.common import OneLineParser

    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    common = OneLineParser()
    add_common_flags(common)
    flags = [option for action in common._actions for option in action.option_strings if option.startswith("--")]
    assert flags[1:] == ["--quiet", "--json", "--print-every", "--seed", "--backend", "--device",
                         "--memory-budget"]  # after --help
    assert all(flag in text for flag in flags)


def test_the_command_line_of_a_config_parses_back_to_it():
    from neural_style.commands.flags import config_from_args
    from neural_style.commands.stylize import build_parser, command_line
    from neural_style.config import StyleConfig
    import shlex

    config = StyleConfig(content="my photo.jpg", styles=("a.jpg", "b.jpg"), output="x.png", size=300,
                         style_weight=316227.766, style_blend_weights=(0.3, 0.7), color_match=True,
                         masks=("m1.png", "m2.png"), seed=3, style_loss="wasserstein", xla=False, init="content",
                         scales=1, tile_size=0, content_layers=("block4_conv2", "block5_conv2"))
    words = shlex.split(command_line(config))
    assert words[:4] == ["neural-style", "my photo.jpg", "a.jpg", "b.jpg"] and "--no-xla" in words
    assert config_from_args(build_parser().parse_args(words[1:]))[0] == config
    assert command_line(StyleConfig(content="c.jpg", styles=("s.jpg",))) == "neural-style c.jpg s.jpg"


@pytest.mark.parametrize("command", [["compare", "c.jpg", "s.jpg", "-o", "x"], ["benchmark"], ["doctor"], ["studio"]])
def test_commands_with_their_own_report_refuse_json_in_one_line(command, capsys):
    refused(capsys, [*command, "--json"], "prints its own report: drop --json")
