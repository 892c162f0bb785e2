"""The studio: the form's settings, a run streamed and kept in the gallery with its command line, Stop, bad uploads,
and the page in a real browser."""

import json
import os
import shlex
import threading
import urllib.request

import numpy as np
import pytest
from PIL import Image

from neural_style.commands.flags import config_from_args
from neural_style.commands.stylize import build_parser, command_line
from neural_style.config import StyleConfig
from neural_style.samples import sample_images
from neural_style.studio.app import Studio, StudioForm, curve_rows
from neural_style.studio.gallery import Gallery
from tests.browser import CHROMIUM, Browser, poll

TINY = dict(size=48, iterations=8, init="content", seed=1)


@pytest.fixture()
def studio(tmp_path):
    return Studio(Gallery(str(tmp_path / "gallery")), command_line, seed=1, size=64, iterations=12)


def test_uploads_win_over_samples_and_strength_is_the_style_strength(small_images):
    content, style = small_images
    samples = sample_images()
    assert {"chelsea.jpg", "swirls.jpg"} <= set(samples)
    form = StudioForm(content_upload=content, content_sample="coffee.jpg", style_uploads=[style],
                      style_samples=["swirls.jpg"], strength=3.0, **TINY)
    config = form.config()
    assert config.content == content and config.styles == (style,)
    default = StyleConfig().resolved_loss_weights().style
    assert config.style_strength == 3.0 and config.resolved_loss_weights().style == pytest.approx(3 * default)
    sampled = StudioForm(content_sample="coffee.jpg", style_samples=["swirls.jpg", "chelsea.jpg"], **TINY).config()
    assert sampled.content == samples["coffee.jpg"] and sampled.styles == (samples["swirls.jpg"], samples["chelsea.jpg"])
    assert StudioForm(content_sample="coffee.jpg", style_samples=["swirls.jpg"]).config().style_strength == 1.0


@pytest.mark.parametrize("change, message", [
    (dict(content_upload=None, content_sample=None), "no content photo"),
    (dict(style_uploads=None, style_samples=[]), "no style painting"),
    (dict(blend_weights="1,x"), "blend weights must be numbers"),
    (dict(size=0), "--size"),
])
def test_a_bad_form_is_one_line(small_images, change, message):
    content, style = small_images
    values = dict(dict(content_upload=content, style_uploads=[style], **TINY), **change)
    from neural_style.errors import NeuralStyleError

    with pytest.raises(NeuralStyleError, match=message) as caught:
        StudioForm(**values).config()
    assert "\n" not in str(caught.value)


def _not_an_image(tmp_path, monkeypatch, content):
    path = tmp_path / "holiday.jpg"
    path.write_text("not a picture")
    return str(path), "not an image"


def _bomb(tmp_path, monkeypatch, content):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    return content, "decompression bomb guard"


def _too_large_for_memory(tmp_path, monkeypatch, content):
    from neural_style.plan import memory

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 50e6)
    return content, "is available"


@pytest.mark.parametrize("upload", [_not_an_image, _bomb, _too_large_for_memory])
def test_a_bad_upload_gets_the_command_lines_one_line_and_nothing_is_kept(small_images, studio, tmp_path, monkeypatch,
                                                                        upload):
    content, style = small_images
    path, message = upload(tmp_path, monkeypatch, content)
    updates = list(studio.paint(StudioForm(content_upload=path, style_uploads=[style], **dict(TINY, size=512))))
    picture, line, _, _, entry = updates[-1]
    assert picture is None and entry is None
    assert line.startswith("**error:**") and message in line and "\n" not in line
    assert studio.gallery.entries() == []


def test_paint_streams_the_run_and_keeps_the_picture_with_its_settings_and_command(small_images, studio):
    content, style = small_images
    updates = list(studio.paint(StudioForm(content_upload=content, style_uploads=[style], **TINY)))
    pictures = [u[0] for u in updates if u[0] is not None]
    assert len(pictures) >= 2 and pictures[-1].shape == (32, 48, 3)
    assert any(not np.array_equal(a, b) for a, b in zip(pictures, pictures[1:])), "the picture never changed"
    assert any("iteration" in u[1] and "left" in u[1] for u in updates[:-1])
    *_, (final, line, rows, command, entry) = updates
    assert entry is not None and "kept as 0001-content-style.png" in line
    assert set(rows["term"]) == {"total", "content", "style", "tv"} and max(rows["iteration"]) == 8
    np.testing.assert_array_equal(np.asarray(Image.open(entry.picture)), final)
    with open(entry.settings) as stream:
        record = json.load(stream)
    assert record["run"]["iterations"] == 8 and record["run"]["stop_reason"] == "done"
    assert record["command"] == command
    # The command line paints the same settings, from the gallery's own copies of the images.
    words = shlex.split(command)
    asked, _ = config_from_args(build_parser().parse_args(words[1:]))
    kept = StyleConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in record["settings"].items()})
    assert asked == kept.with_options(output="out.png")
    assert all(os.path.isfile(path) and path.startswith(studio.gallery.folder) for path in (asked.content, *asked.styles))
    assert [e.picture for e in studio.gallery.entries()] == [entry.picture]


def test_stop_keeps_the_picture_so_far(small_images, studio):
    content, style = small_images
    updates = []

    def paint():
        for update in studio.paint(StudioForm(content_upload=content, style_uploads=[style],
                                              **dict(TINY, iterations=400, size=64))):
            updates.append(update)
            if "iteration" in update[1] and len(updates) == 3:
                assert studio.stop().startswith("stopping")

    thread = threading.Thread(target=paint)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    entry = updates[-1][4]
    assert entry is not None and "stopped" in updates[-1][1]
    with open(entry.settings) as stream:
        run = json.load(stream)["run"]
    assert run["stop_reason"] == "stopped" and 0 < run["iterations"] < 400
    assert studio.stop() == "nothing is running"


def test_curve_rows_are_thinned_and_skip_values_a_log_cannot_show():
    history = [{"iteration": i, "total": 10.0 / i, "content": 0.0, "tv": float("nan")} for i in range(1, 1001)]
    rows = curve_rows(history)
    assert set(rows["term"]) == {"total"}
    assert 250 <= len(rows["iteration"]) <= 350 and rows["iteration"][-1] == 1000


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's chromium package (.ci/run does)")
def test_a_real_browser_uploads_paints_and_sees_the_gallery_grow(small_images, studio, tmp_path):
    from neural_style.studio.page import launch

    content, style = small_images
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not a picture")
    page = launch(studio, "127.0.0.1", 0)
    browser = None
    try:
        browser = Browser(width=1400, height=1400)
        browser.call("Page.navigate", url=page.url)
        assert poll(lambda: browser.evaluate("!!document.querySelector('#paint')") or None, 60)
        text = "(s => (document.querySelector(s) || {}).innerText || '')"
        # A bad upload: the command line's one-line message, on the page.
        browser.upload("#content-upload input[type=file]", [str(not_an_image)])
        assert poll(lambda: (lambda t: t if "not an image" in t.lower() else None)(
            browser.evaluate(f"{text}('#check')")), 30), "the bad upload's message never showed"
        browser.evaluate("document.querySelector('#content-upload button[aria-label=Clear]').click()")
        assert poll(lambda: browser.evaluate("!!document.querySelector('#content-upload input[type=file]')") or None, 10)
        browser.upload("#content-upload input[type=file]", [content])
        browser.upload("#style-uploads input[type=file]", [style])
        assert poll(lambda: None if browser.evaluate(f"{text}('#check')").strip() else True, 30)
        browser.evaluate("document.querySelector('#paint').click()")
        counter = ("(() => { const m = (document.querySelector('#status') || {}).innerText?.match(/iteration (\\d+)/);"
                   " return m ? +m[1] : 0; })()")
        first = poll(lambda: browser.evaluate(counter) or None, 90)
        assert first, "the page never showed an iteration"
        source = "(document.querySelector('#picture img') || {}).src || ''"
        seen = browser.evaluate(source)
        assert poll(lambda: True if browser.evaluate(source) not in ("", seen) else None, 60), "the picture never changed"
        assert poll(lambda: True if "kept as" in browser.evaluate(f"{text}('#status')") else None, 120)
        assert poll(lambda: browser.evaluate("document.querySelectorAll('#gallery img').length") or None, 30) == 1
    finally:
        if browser:
            browser.close()
        studio.close()
        page.close()
    assert len(studio.gallery.entries()) == 1


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's chromium package (.ci/run does)")
def test_a_second_paint_waits_in_the_queue_and_says_so(studio):
    from neural_style.studio.page import launch

    studio.iterations = 1000  # the first run is still going when the second asks
    page = launch(studio, "127.0.0.1", 0)
    first = second = None
    try:
        first, second = Browser(), Browser()
        for browser in (first, second):
            browser.call("Page.navigate", url=page.url)
            assert poll(lambda: browser.evaluate("!!document.querySelector('#paint')") or None, 60)
        status = "(document.querySelector('#status') || {}).innerText || ''"
        first.evaluate("document.querySelector('#paint').click()")
        assert poll(lambda: True if "iteration" in first.evaluate(status) else None, 90)
        second.evaluate("document.querySelector('#paint').click()")
        assert poll(lambda: True if "queue: 1/1" in second.evaluate(status) else None, 30), second.evaluate(status)
    finally:
        for browser in (first, second):
            if browser:
                browser.close()
        studio.close()
        page.close()
        studio.close()  # the queued run, if it started before the page closed


def test_the_studio_command_serves_until_interrupted(tmp_path):
    import signal
    import subprocess
    import sys
    import urllib.request

    gallery = tmp_path / "kept"
    process = subprocess.Popen([sys.executable, "-m", "neural_style", "studio", "--port", "0", "--gallery", str(gallery)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = process.stdout.readline()
        assert line.startswith("studio: http://127.0.0.1:") and "only this machine can reach it" in line
        url = line.split()[1]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200 and b"<html" in response.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in process.stderr.read()


def _status(url, method="GET", headers=None):
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers or {}),
                                    timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_studio_lets_in_only_its_user(studio):
    """The printed address (with its token) opens the page; without the token, with a foreign Host, or a
    cross-origin POST: 403, and nothing runs."""
    from neural_style.studio.page import launch

    served = launch(studio, "127.0.0.1", 0)
    try:
        base, token = served.url.split("?")
        assert _status(served.url) == 200
        assert _status(base) == 403 and _status(base + "gradio_api/info") == 403 and _status(base + "config") == 403
        assert _status(served.url, headers={"Host": f"attacker.example:{served.access.port}"}) == 403
        join = base + "gradio_api/queue/join?" + token
        assert _status(join, "POST", {"Origin": "http://attacker.example", "Content-Type": "application/json"}) == 403
        assert studio.current is None and not studio.gallery.entries()
        assert served.password is None  # on the loopback, the token alone
        # A page on another port of 127.0.0.1 holding the cookie (which the browser sends to every port): its reads
        # are refused whatever they carry, and no answer has a CORS header for it.
        cookie = {"Cookie": f"{served.access.cookie_name}={served.access.token}"}
        foreign = {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site", **cookie}
        for path in ("config", "gradio_api/info", "?" + token):
            assert _status(base + path, headers=foreign) == 403, path
            assert _status(base + path, headers={"Sec-Fetch-Site": "same-site", **cookie}) == 403, path
        assert _status(base + "config", headers=dict(cookie, Origin="null")) == 403
        for host in (f"127.evil.example:{served.access.port}", f"127.0.0.1.nip.io:{served.access.port}"):
            assert _status(served.url, headers={"Host": host}) == 403, host
        answered = urllib.request.urlopen(urllib.request.Request(
            base + "config", headers={"Origin": f"http://127.0.0.1:{served.access.port}", **cookie}), timeout=10)
        own = f"http://127.0.0.1:{served.access.port}"
        assert answered.status == 200 and answered.headers.get("Access-Control-Allow-Origin") in (None, own)
        assert answered.headers.get("X-Frame-Options") == "DENY" and answered.headers.get("Cache-Control") == "no-store"
        assert _status(served.url.replace("token=", "token=%C3%A9")) == 403  # a non-ASCII token: refused, no error
    finally:
        served.close()


def test_a_studio_other_machines_can_reach_asks_a_password(studio):
    from neural_style.studio.page import launch

    served = launch(studio, "0.0.0.0", 0)
    try:
        assert served.password and len(served.password) >= 12
        base, token = served.url.split("?")
        assert _status(base + "config?" + token) == 401  # the token lets one reach the login, not the studio
        assert _status(base + "config") == 403  # without the token: refused before the login
    finally:
        served.close()


def test_a_port_in_use_is_one_line(capsys):
    import socket

    from neural_style.commands.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["studio", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"neural-style studio: error: port {port} is in use: pass a free one with --port PORT\n"


def test_without_gradio_the_error_names_the_extra(monkeypatch, capsys):
    import sys

    from neural_style.commands.cli import main

    monkeypatch.setitem(sys.modules, "gradio", None)
    assert main(["studio", "--port", "0"]) == 2
    assert "pip install 'neural-style-keras[studio]'" in capsys.readouterr().err


def test_the_studios_contact_sheet_shows_cells_as_they_finish_and_keeps_the_sheet(small_images, studio):
    content, style = small_images
    updates = list(studio.sheet(StudioForm(content_upload=content, style_uploads=[style], **dict(TINY, iterations=4))))
    partial = [u for u in updates if u[2] is None]
    assert [u[1] for u in partial] == [f"contact sheet: {n}/3 cells" for n in (1, 2, 3)]
    picture, line, entry = updates[-1]
    assert entry is not None and "kept as 0001-sheet-content-style.png" in line
    with open(entry.settings) as stream:
        strengths = json.load(stream)["sheet"]["style_strengths"]
    assert strengths == pytest.approx([0.3, 1.0, 3.0], rel=1e-2)  # the looks: subtle, balanced, strong
    assert picture.shape[1] > 3 * 48


def test_gradios_files_go_to_a_folder_of_the_users_own():
    """Uploads and pictures in a fresh 0700 folder, not the shared /tmp/gradio (Gradio reads the folder at import)."""
    import subprocess
    import sys

    code = ("import os, stat; os.environ.pop('GRADIO_TEMP_DIR', None)\n"
            "from neural_style.studio.page import _import_gradio\n_import_gradio()\n"
            "from gradio import route_utils\nfolder = os.environ['GRADIO_TEMP_DIR']\n"
            "print(folder == route_utils.DEFAULT_TEMP_DIR, oct(stat.S_IMODE(os.stat(folder).st_mode)))\n"
            "os.rmdir(folder)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "0o700"], done.stderr[-2000:]
