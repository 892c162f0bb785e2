"""The measurements (neural_style/benchmarks/) through the benchmark command. Timings are the benchmark's business,
not these tests'."""

import os

import pytest


# --- the benchmark -------------------------------------------------------------------------------

def test_benchmark_prints_its_table_at_a_tiny_size(capsys):
    from neural_style.commands.cli import main

    assert main(["benchmark", "--sizes", "32", "--precisions", "bfloat16", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("bfloat16"))
    fields = row.split()
    assert fields[1] == "32x21"
    graph_min, graph_median = (float(v) for v in fields[2].split("/"))
    assert 0 < graph_min <= graph_median
    assert float(fields[4]) > 0 and float(fields[5]) > 0 and fields[6].endswith("%")
    start, memory = float(fields[7].rstrip("s")), float(fields[8])
    assert 0 < start < 120 and memory > 100
    assert "bfloat16 convolution peak:" in out and "matmul peak:" in out


def test_evaluation_gflop_counts_vgg19s_convolutions(vgg19):
    from neural_style.benchmarks.speed import evaluation_gflop
    from neural_style.features.vgg19 import feature_extractor

    model = feature_extractor(vgg19, ["block1_conv1"])
    # One 3x3 conv, 3 -> 64 channels, on 10 x 10: forward and input gradient, plus its Gram matrix.
    expected = 2 * 2 * 10 * 10 * 9 * 3 * 64 + 2 * 2 * 10 * 10 * 64 * 64
    assert evaluation_gflop(model, ["block1_conv1"], 10, 10) == pytest.approx(expected / 1e9)
    deep = feature_extractor(vgg19, ["block2_conv1"])
    assert evaluation_gflop(deep, [], 8, 8) == pytest.approx(
        4 * 8 * 8 * 9 * (3 * 64 + 64 * 64) / 1e9 + 4 * 4 * 4 * 9 * 64 * 128 / 1e9)


def test_time_to_quality_compares_the_baseline_with_the_default_and_the_photo_start(small_images):
    from neural_style.benchmarks import time_to_quality

    content, style = small_images
    runs = time_to_quality.time_to_quality(content, style, 48, lambda: False, say=lambda text: None, iterations=12)
    summary = time_to_quality.summarise_time_to_quality(runs, content, style, 48)
    assert summary["baseline"]["precision"] == "float32" and summary["baseline"]["scales"] == 1
    assert summary["baseline"]["iterations"] == 12
    assert summary["baseline"]["float32_loss"] > 0 and summary["default"]["float32_loss"] > 0
    assert summary["wall_time_ratio"] > 0
    assert summary["content_start"]["float32_loss"] > 0 and summary["content_start"]["iterations"] == 12


def test_style_losses_scores_every_result_by_every_loss_and_writes_the_sheet(small_images, tmp_path, capsys):
    from neural_style.commands.cli import main

    content, style = small_images
    assert main(["benchmark", "--style-losses", "--pairs", f"{content}:{style}", "--size", "32", "--iterations", "2",
                 "--rounds", "1", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("content.png / style.png")]
    assert [row.split()[3] for row in rows] == ["gram", "wasserstein", "sliced"]  # a row per loss it was run with
    assert all(len(row.split()) == 8 for row in rows)  # scored by every loss, and the content loss
    assert "seconds per evaluation" in out and all(loss in out for loss in ("gram", "wasserstein", "sliced"))
    assert os.path.exists(tmp_path / "style_losses_1.png")


def test_starts_compares_the_content_start_with_the_adain_start_and_writes_the_sheet(small_images, tmp_path, capsys):
    from neural_style.commands.cli import main

    content, style = small_images
    assert main(["benchmark", "--starts", "--pairs", f"{content}:{style}", "--size", "48", "--iterations", "2",
                 "--rounds", "1", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("content.png / style.png")]
    assert [row[3] for row in rows] == ["content", "adain"] and all(float(row[4]) > 0 for row in rows)
    assert "AdaIN start ended lower on" in out and "s per picture" in out
    assert os.path.exists(tmp_path / "starts_1.png")


def test_studio_compares_a_plain_run_with_the_studios_paint(small_images, capsys):
    import re

    from neural_style.commands.cli import main

    content, style = small_images
    assert main(["benchmark", "--studio", "--size", "48", "--iterations", "3", "--rounds", "1", "--content", content,
                 "--style", style]) == 0
    out = capsys.readouterr().out
    for way in ("plain run", "studio Paint"):
        assert re.search(rf"{way} \d+\.\d+/\d+\.\d+", out), out


def test_the_prepared_device_check_prints_its_table_on_this_cpu(monkeypatch, capsys):
    """`doctor --check`, at a tiny size: each row of the table is there, for the CPU (what a GPU machine will run)."""
    from neural_style.benchmarks import device_check
    from neural_style.commands.cli import main

    for name, value in (("RUN_SIZE", 48), ("RUN_ITERATIONS", 3), ("TILED_SIZE", 160), ("ROUNDS", 1)):
        monkeypatch.setattr(device_check, name, value)
    assert main(["doctor", "--check"]) == 0
    out = capsys.readouterr().out
    assert "| /CPU:0 |" in out and "| 48 px run, lbfgs (" in out and "planned" in out and "peak" in out
    for precision in ("float32", "bfloat16", "float16"):
        for mode in ("graph", "XLA"):
            assert f"| s/evaluation, {precision} {mode} |" in out
    assert "| tiled | " in out and "px tiles" in out


def test_strength_scores_each_calibration_and_times_them(small_images, tmp_path, capsys):
    from neural_style.commands.cli import main

    content, style = small_images
    assert main(["benchmark", "--strength", "--pairs", f"{content}:{style}", "--size", "48", "--iterations", "2",
                 "--rounds", "1", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| content.png / style.png"))
    scores = [float(cell) for cell in row.strip("| ").split(" | ")[1:]]
    assert len(scores) == 6 and all(score == score for score in scores)  # reached and moved for each calibration
    assert all(f"{name}: style reached mean" in out for name in ("off", "target", "gradient"))
    assert "seconds per evaluation at 512 px" in out and "gradient " in out.splitlines()[-1]
    assert os.path.exists(tmp_path / "strength_1.png")


def test_optimizers_split_an_iteration_and_compare_final_losses(small_images, tmp_path, capsys):
    from neural_style.commands.cli import main

    content, style = small_images
    assert main(["benchmark", "--optimizers", "--content", content, "--style", style, "--sizes", "48",
                 "--precisions", "float32", "--iterations", "3", "--rounds", "1"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| 48 |")]
    assert [row[2] for row in rows] == ["lbfgs", "lbfgs-device"]
    assert all(float(row[3].split("/")[0]) > 0 for row in rows)  # evaluation seconds per iteration
    assert main(["benchmark", "--optimizers", "--pairs", f"{content}:{style}", "--size", "48", "--iterations", "4",
                 "-o", str(tmp_path)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| content.png / style.png")]
    assert len(rows) == 4  # two starts by two precisions
    assert os.path.exists(tmp_path / "optimizers_1.png")
