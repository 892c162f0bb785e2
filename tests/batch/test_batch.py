"""The batch command: job planning, outputs and summary, resume, failure isolation, local workers, Ray."""

import csv
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

from neural_style import stylize_batch
from neural_style.batch.jobs import name_outputs, pair_jobs, read_manifest
from neural_style.commands.cli import main
from neural_style.config import StyleConfig

from tests.helpers import FAST, needs, refused

# A batch job is watched by the batch itself: only the run options.
FAST = dict(size=FAST["size"], iterations=5, scales=1, xla=FAST["xla"], init=FAST["init"])


@pytest.fixture()
def album(tmp_path, small_images):
    """Two content photos and two style paintings in their own folders."""
    content, style = small_images
    folder = tmp_path / "album"
    (folder / "photos").mkdir(parents=True)
    (folder / "paintings").mkdir()
    shutil.copy(content, folder / "photos" / "cat.png")
    Image.open(content).transpose(Image.FLIP_LEFT_RIGHT).save(folder / "photos" / "dog.png")
    shutil.copy(style, folder / "paintings" / "swirls.png")
    Image.open(style).rotate(90, expand=True).save(folder / "paintings" / "turned.png")
    return folder


def rows_of(outdir):
    with open(os.path.join(outdir, "batch.csv"), newline="") as stream:
        return list(csv.DictReader(stream))


def test_pairs_are_every_content_with_every_style_named_content__style(album, tmp_path):
    jobs = pair_jobs([str(album / "photos" / "*.png")], [str(album / "paintings" / "*.png")], "out")
    assert [job.name for job in jobs] == ["cat__swirls.png", "cat__turned.png", "dog__swirls.png", "dog__turned.png"]
    assert all(os.path.dirname(job.output) == "out" for job in jobs)


def test_outputs_that_would_share_a_name_are_renamed_and_reported(album, tmp_path):
    (tmp_path / "other").mkdir()
    shutil.copy(album / "photos" / "cat.png", tmp_path / "other" / "cat.png")
    jobs = pair_jobs([str(album / "photos" / "cat.png"), str(tmp_path / "other" / "cat.png")],
                     [str(album / "paintings" / "swirls.png")], "out")
    messages = name_outputs(jobs)
    assert [job.name for job in jobs] == ["cat__swirls.png", "cat__swirls-2.png"]
    assert len(messages) == 1 and "cat__swirls-2.png" in messages[0] and "other" in messages[0]


def test_a_manifests_columns_override_the_shared_options_per_job(album, tmp_path):
    manifest = album / "jobs.csv"
    manifest.write_text("content,style,output,size,style-weight,style_layers\n"
                        "photos/cat.png,paintings/swirls.png,,64,,\n"
                        "photos/dog.png,paintings/swirls.png;paintings/turned.png,mine/dog.jpg,,1e3,"
                        "\"block1_conv1,block2_conv1\"\n\n")
    shared = StyleConfig(size=48, iterations=7)
    first, second = read_manifest(str(manifest), str(tmp_path / "out"), shared)
    assert first.name == "cat__swirls.png" and first.config(shared).size == 64
    assert first.config(shared).iterations == 7  # not in the row: the shared value
    assert second.output == str(tmp_path / "out" / "mine" / "dog.jpg")
    assert len(second.styles) == 2 and second.config(shared).style_weight == 1e3
    assert second.config(shared).style_layers == ("block1_conv1", "block2_conv1")
    assert second.config(shared).size == 48


@pytest.mark.parametrize("rows, message", [
    ("content,style,size\nphotos/cat.png,paintings/swirls.png,64\nphotos/dog.png,paintings/swirls.png,big\n",
     "line 3: size = 'big' is not a valid value: give a whole number"),
    ("content,style\nphotos/cat.png,paintings/swirls.png\nphotos/cow.png,paintings/swirls.png\n",
     "line 3: the content image 'photos/cow.png' is not a file"),
    ("content,style,iterations\nphotos/cat.png,paintings/swirls.png,0\n", "line 2: --iterations must be"),
    ("content,style,web\nphotos/cat.png,paintings/swirls.png,8000\n", "column 'web' that is set for the whole batch"),
    ("content,style,colour\nphotos/cat.png,paintings/swirls.png,red\n", "column 'colour' that is not an option"),
    ("photo,style\nphotos/cat.png,paintings/swirls.png\n", "has no 'content' column"),
])
def test_bad_manifest_rows_are_refused_before_any_work_with_their_line(album, tmp_path, capsys, rows, message):
    manifest = album / "jobs.csv"
    manifest.write_text(rows)
    outdir = tmp_path / "out"
    status = main(["batch", "-o", str(outdir), "--jobs", str(manifest)])
    error = capsys.readouterr().err.strip()
    assert status == 2 and message in error and len(error.splitlines()) == 1
    assert error.startswith("neural-style batch: error: ") and str(manifest) in error
    assert not outdir.exists()  # nothing written


def test_a_batch_too_large_for_memory_is_refused_before_any_work(album, tmp_path, capsys):
    """Every job is planned as its run will plan it (it ran until the job that did not fit)."""
    error = refused(capsys, ["batch", "-o", str(tmp_path / "out"), "--contents", str(album / "photos" / "*.png"),
                             "--styles", str(album / "paintings" / "*.png"), "--size", "6000", "--tile-size", "0"],
                    "needs about", folder=str(tmp_path / "out"))
    assert "use --size" in error and not (tmp_path / "out").exists()


def test_a_glob_that_matches_nothing_is_refused(album, tmp_path, capsys):
    refused(capsys, ["batch", "-o", str(tmp_path / "out"), "--contents", str(album / "*.jpg"),
                     "--styles", str(album / "paintings" / "*.png")], "matches no file", folder=str(tmp_path / "out"))


def test_a_batch_writes_outputs_logs_and_summary_isolates_a_broken_job_and_resumes(album, tmp_path, capsys):
    (album / "photos" / "broken.png").write_bytes(b"not a picture at all")
    outdir = tmp_path / "out"
    argv = ["batch", "-o", str(outdir), "--contents", str(album / "photos" / "*.png"),
            "--styles", str(album / "paintings" / "swirls.png"), "--size", "48", "--iterations", "5", "--scales", "1", "--init", "content"]
    assert main(argv) == 1  # one job failed
    err = capsys.readouterr().err
    assert "failed: broken__swirls.png: " in err and "2 done, 0 skipped, 1 failed" in err
    rows = {row["output"]: row for row in rows_of(outdir)}
    broken, cat = rows[str(outdir / "broken__swirls.png")], rows[str(outdir / "cat__swirls.png")]
    assert broken["status"] == "failed" and "broken.png" in broken["error"] and "not an image" in broken["error"]
    assert cat["status"] == "done" and cat["iterations"] == "5" and float(cat["total_loss"]) > 0 and cat["worker"]
    assert sorted(os.listdir(outdir)) == ["batch.csv", "cat__swirls.png", "cat__swirls_log.csv",
                                          "dog__swirls.png", "dog__swirls_log.csv"]
    assert Image.open(outdir / "cat__swirls.png").size == (48, 32)
    with open(outdir / "cat__swirls_log.csv") as stream:
        assert len(stream.read().splitlines()) == 1 + 5

    made = os.path.getmtime(outdir / "cat__swirls.png")
    assert main(argv) == 1  # the done jobs are skipped, the broken one is tried again
    assert "2 already done" in capsys.readouterr().err
    rows = {row["output"]: row for row in rows_of(outdir)}
    assert rows[str(outdir / "cat__swirls.png")]["status"] == "skipped"
    assert rows[str(outdir / "cat__swirls.png")]["total_loss"] == cat["total_loss"]  # the run that made it
    assert os.path.getmtime(outdir / "cat__swirls.png") == made

    os.remove(album / "photos" / "broken.png")
    assert main(argv + ["--overwrite"]) == 0
    assert [row["status"] for row in rows_of(outdir)] == ["done", "done"]
    assert os.path.getmtime(outdir / "cat__swirls.png") > made


def test_an_interrupted_batch_leaves_the_jobs_not_run_pending(album, tmp_path):
    outdir = tmp_path / "out"
    result = stylize_batch([str(album / "photos" / "*.png")], [str(album / "paintings" / "*.png")], str(outdir),
                           quiet=True, should_stop=lambda: len(os.listdir(outdir)) > 3, **FAST)
    finished = [row["status"] for row in rows_of(outdir)]
    assert result.stopped and "pending" in finished and "done" in finished
    assert set(finished) <= {"done", "pending"}
    for row in rows_of(outdir):  # a pending job left no picture behind
        assert os.path.exists(row["output"]) == (row["status"] == "done")


def test_thread_pools_are_sized_before_tensorflow_runs():
    code = ("from neural_style.batch.worker import size_thread_pools; size_thread_pools(1); import tensorflow as tf; "
            "tf.constant(1.0) + 1.0; print(tf.config.threading.get_intra_op_parallelism_threads(), "
            "tf.config.threading.get_inter_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.split() == ["1", "1"]
    from neural_style.batch.local_pool import threads_per_worker

    assert threads_per_worker(2, cores=16) == 8 and threads_per_worker(4, cores=2) == 1


def _kill_a_worker_once_jobs_are_flowing(outdir, killed):
    """Once the first picture is written, the workers are warm and on the next jobs: kill one of them."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if os.path.isdir(outdir) and any(name.endswith(".png") for name in os.listdir(outdir)):
            children = multiprocessing.active_children()
            if children:
                os.kill(children[0].pid, signal.SIGKILL)
                killed.append(children[0].pid)
            return
        time.sleep(0.05)


def test_local_workers_run_the_jobs_and_a_killed_worker_s_jobs_run_again(album, tmp_path):
    outdir = tmp_path / "out"
    killed, said = [], []
    killer = threading.Thread(target=_kill_a_worker_once_jobs_are_flowing, args=(outdir, killed))
    killer.start()
    result = stylize_batch([str(album / "photos" / "*.png")], [str(album / "paintings" / "*.png")], str(outdir),
                           workers=2, stream=_Lines(said), **dict(FAST, iterations=30))
    killer.join()
    assert killed, "no worker process was seen"
    assert any("a worker process died" in line for line in said)
    rows = rows_of(outdir)
    assert [row["status"] for row in rows] == ["done"] * 4
    workers = {row["worker"].split(":")[1] for row in rows}
    assert str(os.getpid()) not in workers
    for row in rows:
        assert Image.open(row["output"]).size == (48, 32)
    assert result.count("done") == 4


class _Lines:
    def __init__(self, lines):
        self.lines = lines

    def write(self, text):
        self.lines.extend(line for line in text.splitlines() if line)

    def flush(self):
        pass


needs_ray = needs("ray", "cluster")


def _process_ids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            return stream.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # gone meanwhile
        return ""


@pytest.fixture(scope="module")
def two_node_cluster():
    """A Ray head and a second node on this machine, one CPU each."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@needs_ray
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds Ray's worker processes in /proc (Linux)")
def test_ray_runs_every_job_on_a_two_node_cluster_and_a_killed_worker_s_job_is_retried(album, tmp_path,
                                                                                        two_node_cluster):
    outdir = tmp_path / "out"
    said, killed = [], []

    def kill_a_job_worker():
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not killed:
            for pid in _process_ids():
                # Ray titles a worker process ray::TASK only while it runs that task (ray::IDLE between).
                if "neural_style_job" in _command_line(pid):
                    os.kill(pid, signal.SIGKILL)  # mid-job
                    killed.append(pid)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_job_worker)
    killer.start()
    result = stylize_batch([str(album / "photos" / "*.png")], [str(album / "paintings" / "*.png")], str(outdir),
                           ray=two_node_cluster.address, retries=2, stream=_Lines(said), **dict(FAST, iterations=40))
    killer.join()
    assert any("2 node(s)" in line for line in said)
    assert killed, "no Ray task process was seen"
    rows = rows_of(outdir)
    assert [row["status"] for row in rows] == ["done"] * 4 and result.count("done") == 4
    for row in rows:  # each written once, whole, by the driver
        assert Image.open(row["output"]).size == (48, 32)
    assert not [name for name in os.listdir(outdir) if name.startswith(".tmp-")]
    import ray

    assert not ray.is_initialized()  # the driver let go of the cluster


def test_ray_needs_the_extra_named_when_missing(album, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    refused(capsys, ["batch", "-o", str(tmp_path / "out"), "--contents", str(album / "photos" / "cat.png"),
                     "--styles", str(album / "paintings" / "swirls.png"), "--ray", "local", "--size", "48",
                     "--init", "content"], "pip install -e '.[cluster]'")
    assert not (tmp_path / "out").exists()


@needs_ray
@pytest.mark.parametrize("extra, message", [
    (["--ray", "127.0.0.1:1"], "nothing answers at 127.0.0.1:1"),
    (["--ray", "nonsense"], "is not local, auto or HOST:PORT"),
    (["--ray", "local", "--workers", "2"], "drop --workers"),
])
def test_a_cluster_that_cannot_be_used_is_refused_before_anything_is_written(album, tmp_path, capsys, extra, message):
    status = main(["batch", "-o", str(tmp_path / "out"), "--contents", str(album / "photos" / "cat.png"),
                   "--styles", str(album / "paintings" / "swirls.png"), "--size", "48", "--init", "content", *extra])
    error = capsys.readouterr().err.strip()
    assert status == 2 and message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_json_reports_each_job_and_the_end(album, tmp_path, capsys):
    import json

    outdir = tmp_path / "out"
    assert main(["batch", "-o", str(outdir), "--contents", str(album / "photos" / "cat.png"), "--styles",
                 str(album / "paintings" / "*.png"), "--size", "48", "--iterations", "3", "--init", "content",
                 "--no-xla", "--json"]) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert [event["event"] for event in events] == ["job", "job", "batch_end"]
    assert [event["status"] for event in events[:2]] == ["done", "done"] and events[0]["jobs"] == 2
    assert all(os.path.exists(event["output"]) for event in events[:2]) and events[2]["done"] == 2
    assert "2 done" in captured.err
