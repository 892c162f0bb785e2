"""The live view: its endpoints, Stop, a port in use, and a real browser drawing the page."""

import base64
import io
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from neural_style.commands.cli import main
from neural_style.errors import NeuralStyleError
from neural_style.step import Step
from neural_style.watch.live_page import LiveView, png_bytes
from tests.browser import CHROMIUM, Browser, poll


def at(view, path=""):
    """The address of `path` on the page (its token goes in a header, as the page's script sends it)."""
    return f"http://127.0.0.1:{view.port}/{path}"


def on(url, path):
    """`path` on the page whose printed address (with its token) is `url`."""
    return url.split("/?")[0] + "/" + path


def headers_for(url):
    """The page's own request headers, for the page whose printed address is `url`."""
    return {"X-Neural-Style-Token": url.split("token=")[1], "Origin": url.split("/?")[0]}


def mine(view, **headers):
    """The headers of the page's own request: its token, and its origin."""
    return {"X-Neural-Style-Token": view.access.token, "Origin": f"http://127.0.0.1:{view.port}", **headers}


def get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
        return response.status, response.headers.get("Content-Type"), response.read()


def answer(url, method="GET", headers=None):
    """(status, headers) of a request, whatever the status."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers or {}),
                                    timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def status_of(url, method="GET", headers=None):
    return answer(url, method, headers)[0]


@pytest.fixture()
def view():
    content = np.full((20, 30, 3), 200, np.uint8)
    style = np.zeros((24, 30, 3), np.uint8)
    live = LiveView(0, "127.0.0.1", content, [style], total_iterations=10,
                    render=lambda step: np.full((20, 30, 3), step.iteration * 20, np.uint8))
    yield live
    live.close()


def test_endpoints_serve_the_state_the_pictures_and_nothing_else(view):
    assert view._server.server_address[0] == "127.0.0.1"
    assert view.url == at(view) + f"?token={view.access.token}"  # the address printed carries the token
    assert status_of(at(view, "image/current.png"), headers=mine(view)) == 404  # nothing painted yet
    view.on_step(Step(iteration=3, evaluations=4, seconds=2.0, total=9.0, terms=dict(content=1.0, style=7.0, tv=1.0)))
    code, kind, body = get(at(view, "state"), mine(view))
    state = json.loads(body)
    assert code == 200 and kind == "application/json"
    assert state["iteration"] == 3 and state["status"] == "running" and state["loss"]["style"] == 7.0
    assert state["seconds_per_evaluation"] == pytest.approx(0.5) and state["history"][0]["iteration"] == 3
    code, kind, body = get(at(view, "image/current.png"), mine(view))
    assert kind == "image/png" and np.asarray(Image.open(io.BytesIO(body)))[0, 0, 0] == 60
    assert np.asarray(Image.open(io.BytesIO(get(at(view, "image/content.png"), mine(view))[2])))[0, 0, 0] == 200
    assert get(at(view, "image/style/0.png"), mine(view))[0] == 200
    code, kind, body = get(view.url)
    assert b"<canvas" in body and kind.startswith("text/html") and b"http" not in body.replace(b"http-equiv", b"")
    for path in ("image/style/1.png", "nothing", "../setup.cfg", "app.js/../../README.md", "web/app.js"):
        assert status_of(at(view, path), headers=mine(view)) == 404, path
    assert status_of(at(view, "state"), "POST", mine(view)) == 404


def test_a_feed_forward_start_is_shown_before_the_first_iteration_then_replaced(view):
    assert status_of(at(view, "image/current.png"), headers=mine(view)) == 404
    view.on_start(np.full((20, 30, 3), 123, np.uint8))
    picture = get(at(view, "image/current.png"), mine(view))[2]
    assert np.asarray(Image.open(io.BytesIO(picture)))[0, 0, 0] == 123
    view.on_step(Step(iteration=1, evaluations=2, seconds=1.0, total=9.0, terms=dict(content=1.0, style=7.0, tv=1.0)))
    picture = get(at(view, "image/current.png"), mine(view))[2]
    assert np.asarray(Image.open(io.BytesIO(picture)))[0, 0, 0] == 20


def test_stop_button_sets_the_stop_flag(view):
    assert not view.stop_requested.is_set()
    assert status_of(at(view, "stop"), "POST", mine(view)) == 202  # as the page's own fetch sends it
    assert view.stop_requested.is_set()


def _attacks(view):
    """(what, method, path, headers, expected status): the requests an attacker on the same machine can make (a page on
    another port of 127.0.0.1, a rebinding name, crafted headers), and the page's own for contrast."""
    port, token = view.port, view.access.token
    own = f"http://127.0.0.1:{port}"
    return [
        ("the page itself, with the token in its address", "GET", f"?token={token}", {}, 200),
        ("the page's script, a public file", "GET", "app.js", {"Sec-Fetch-Site": "same-origin"}, 200),
        ("the state with the token header", "GET", "state", mine(view), 200),
        ("no token", "GET", "state", {}, 403),
        ("the page without its token", "GET", "", {}, 403),
        ("a wrong token", "GET", "state", mine(view, **{"X-Neural-Style-Token": token + "x"}), 403),
        ("the token in the query of an API path", "GET", f"state?token={token}", {}, 403),
        ("a non-ASCII token", "GET", "?token=%C3%A9", {}, 403),
        ("a non-ASCII token header", "GET", "state", mine(view, **{"X-Neural-Style-Token": "\u00e9"}), 403),
        ("a cookie alone (the old way in)", "GET", "state", {"Cookie": f"neural_style_token_{port}={token}"}, 403),
        ("a page on another local port reads the state", "GET", "state",
         mine(view, Origin="http://127.0.0.1:9999", **{"Sec-Fetch-Site": "same-site"}), 403),
        ("a page on another local port loads the photo", "GET", "image/content.png",
         {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Dest": "image"}, 403),
        ("another local port presses Stop", "POST", "stop", mine(view, Origin="http://127.0.0.1:9999"), 403),
        ("a cross-site Stop", "POST", "stop", mine(view, **{"Sec-Fetch-Site": "cross-site"}), 403),
        ("a Stop that does not say its origin", "POST", "stop", {"X-Neural-Style-Token": token}, 403),
        ("a Stop with only a Referer", "POST", "stop", {"X-Neural-Style-Token": token, "Referer": own + "/"}, 403),
        ("a null origin (a sandboxed page)", "GET", "state", mine(view, Origin="null"), 403),
        ("a rebinding name", "GET", "state", mine(view, Host=f"attacker.example:{port}"), 403),
        ("a name that begins with 127.", "GET", "state", mine(view, Host=f"127.evil.example:{port}"), 403),
        ("a loopback address as a name prefix", "GET", "state", mine(view, Host=f"127.0.0.1.nip.io:{port}"), 403),
        ("another port in the Host", "GET", "state", mine(view, Host=f"127.0.0.1:{port + 1}"), 403),
        ("a port that is not a number", "GET", "state", mine(view, Host="127.0.0.1:http"), 403),
        ("localhost", "GET", "state", mine(view, Host=f"localhost:{port}"), 200),
        ("the IPv6 loopback", "GET", "state", mine(view, Host=f"[::1]:{port}"), 200),
    ]


with_view_names = [case[0] for case in _attacks(type("V", (), {"port": 1, "access": type("A", (), {"token": "t"})})())]


@pytest.mark.parametrize("name", with_view_names)
def test_only_the_pages_user_gets_in(view, name):
    """Every request above answered as expected, never with a cookie or a CORS header, always with the headers that
    forbid framing and caching; the run goes on."""
    view.on_step(Step(iteration=1, evaluations=1, seconds=1.0, total=5.0, terms=dict(content=1.0, style=3.0, tv=1.0)))
    _, method, path, headers, expected = next(case for case in _attacks(view) if case[0] == name)
    status, answered = answer(at(view, path), method, headers)
    assert status == expected, (name, status)
    assert answered.get("Set-Cookie") is None and answered.get("Access-Control-Allow-Origin") is None
    assert "frame-ancestors 'none'" in answered.get("Content-Security-Policy", "")
    assert answered.get("X-Frame-Options") == "DENY" and answered.get("Cache-Control") == "no-store"
    assert not view.stop_requested.is_set()


def test_a_crowd_of_slow_clients_does_not_lock_the_owner_out(view):
    """A hundred connections that never send a request: the owner's request is still answered at once, and the slow
    ones are closed after the server's timeout."""
    slow = [socket.create_connection(("127.0.0.1", view.port)) for _ in range(100)]
    try:
        started = time.monotonic()
        assert status_of(at(view, "state"), headers=mine(view)) == 200
        assert time.monotonic() - started < 2
    finally:
        for connection in slow:
            connection.close()


def test_a_vanished_client_is_silent(view, capsys):
    """A client that sends half a request and goes away, or one that breaks the stream: nothing is printed."""
    broken = socket.create_connection(("127.0.0.1", view.port))
    broken.sendall(b"GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    broken.close()
    listener = socket.create_connection(("127.0.0.1", view.port))
    listener.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{view.port}\r\nX-Neural-Style-Token: "
                     f"{view.access.token}\r\n\r\n".encode())
    listener.recv(100)
    listener.close()
    view.on_step(Step(iteration=1, evaluations=1, seconds=1.0, total=5.0, terms=dict(content=1.0, style=3.0, tv=1.0)))
    time.sleep(0.5)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out and "Error" not in captured.err


def test_events_stream_every_step_then_the_final_picture(view):
    received = []

    def listen():
        with urllib.request.urlopen(urllib.request.Request(at(view, "events"), headers=mine(view)),
                                    timeout=20) as stream:
            for line in stream:
                if line.startswith(b"data: "):
                    received.append(json.loads(line[6:]))

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.3)
    for iteration in (1, 2):
        view.on_step(Step(iteration=iteration, evaluations=iteration, seconds=float(iteration), total=5.0,
                          terms=dict(content=1.0, style=3.0, tv=1.0)))
        time.sleep(0.2)
    view.finish(np.full((20, 30, 3), 7, np.uint8), "done", "finished")
    listener.join(10)
    assert not listener.is_alive()  # the stream ends with the run
    assert [m["iteration"] for m in received if m["status"] == "running"][-1] == 2
    assert received[-1]["status"] == "done" and received[-1]["final_image"].startswith("data:image/png;base64,")


def test_a_port_in_use_is_one_line_before_any_work(small_images, tmp_path, capsys):
    content, style = small_images
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(NeuralStyleError, match=f"port {port} is in use"):
            LiveView(port, "127.0.0.1", np.zeros((4, 4, 3), np.uint8), [], 1)
        output = tmp_path / "o.png"
        assert main([content, style, "-o", str(output), "--web", str(port), "--size", "64"]) == 2
    err = capsys.readouterr().err
    assert f"port {port} is in use: pass a free one with --web PORT" in err and len(err.strip().splitlines()) == 1
    assert not output.exists()


def run_in_background(**options):
    """stylize() in a thread; returns the thread, where its result lands, and the live view's URL."""
    from neural_style import stylize

    box = {}
    urls = []

    class Lines(io.StringIO):
        def write(self, text):
            if "live view: " in text:
                urls.append(text.split("live view: ")[1].split(";")[0].strip())
            return len(text)

    def work():
        box["result"] = stylize(stream=Lines(), **options)

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.time() + 60
    while not urls and time.time() < deadline:
        time.sleep(0.05)
    assert urls, "the live view never said where it is"
    return thread, box, urls[0]


def wait_for(condition, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_stop_from_the_page_ends_the_run_with_the_picture_and_log_saved(small_images, tmp_path):
    content, style = small_images
    output = str(tmp_path / "out.png")
    # Adam runs every one of its steps (L-BFGS may end early), so the run is still going when stopped.
    thread, box, url = run_in_background(content=content, style=style, output=output, size=64, iterations=2000,
                                         tolerance=0, scales=1, web=0, optimizer="adam")
    assert wait_for(lambda: json.loads(get(on(url, "state"), headers_for(url))[2])["iteration"] >= 3)
    assert status_of(on(url, "stop"), "POST", headers_for(url)) == 202
    thread.join(60)
    result = box["result"]
    assert result.stop_reason == "stopped" and 3 <= result.iterations < 2000
    assert os.path.exists(output) and os.path.exists(result.log_file)
    with pytest.raises(OSError):
        get(on(url, "state"), headers_for(url))  # the server is gone with the run


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's chromium package (.ci/run does)")
def test_a_real_browser_draws_the_picture_and_the_curve_as_the_run_goes(small_images, tmp_path):
    content, style = small_images
    # Adam runs every one of its steps (L-BFGS may end early), so the run is still going after several looks.
    thread, box, url = run_in_background(content=content, style=style, output=str(tmp_path / "out.png"), size=160,
                                         iterations=2000, tolerance=0, scales=1, web=0, snapshot_every=0,
                                         optimizer="adam")
    browser = None
    try:
        browser = Browser()
        browser.call("Page.navigate", url=url)
        counter = "+(document.getElementById('iteration') || {}).textContent || 0"
        first = poll(lambda: browser.evaluate(counter) or None)
        assert first, "the page never showed an iteration"
        later = poll(lambda: (lambda value: value if value > first else None)(browser.evaluate(counter)))
        assert later, "the page's iteration counter did not move with the run"
        assert browser.evaluate("document.getElementById('status').textContent") == "running"

        def drawn():
            page = browser.screenshot()
            picture, curve = page[browser.box("current")], page[browser.box("curve")]
            ink = (np.abs(curve - curve.mean(axis=(0, 1))).sum(axis=2) > 60).mean()
            return (picture, ink) if picture.size and picture.std() > 20 and ink > 0.005 else None

        seen = poll(drawn, seconds=60)
        assert seen is not None, "the picture or the loss curve never appeared on the page"
        picture, _ = seen
        assert picture.shape[0] > 100 and picture.shape[1] > 100  # the picture is shown, not a broken-image icon
        browser.evaluate("document.getElementById('stop').click()")  # the page's own Stop button
        status = "document.getElementById('status').textContent"
        assert poll(lambda: browser.evaluate(status) if browser.evaluate(status) != "running" else None) == "stopped"
        thread.join(60)
        assert browser.evaluate("document.getElementById('current').src").startswith("data:image/png")  # the final one
    finally:
        if browser:
            browser.close()
        if thread.is_alive():  # a failed look above: end the run
            status_of(on(url, "stop"), "POST", headers_for(url))
        thread.join(60)
    assert box["result"].stop_reason == "stopped"


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's chromium package (.ci/run does)")
def test_a_picture_still_loading_when_the_run_ends_does_not_replace_the_final_one():
    rendering, release = threading.Event(), threading.Event()

    def slow_render(step):
        rendering.set()
        release.wait(30)  # the page's fetch of this picture is under way until the test lets it finish
        return np.full((20, 30, 3), 90, np.uint8)

    live = LiveView(0, "127.0.0.1", np.full((20, 30, 3), 200, np.uint8), [np.zeros((24, 30, 3), np.uint8)],
                    total_iterations=10, render=slow_render)
    browser = None
    try:
        browser = Browser()
        browser.call("Page.navigate", url=live.url)
        loaded = "typeof show === 'function' && document.readyState === 'complete'"
        assert poll(lambda: browser.evaluate(loaded) or None)
        time.sleep(0.5)  # the event stream connects
        live.on_step(Step(iteration=1, evaluations=1, seconds=1.0, total=5.0, terms=dict(content=1.0, style=3.0, tv=1.0)))
        assert rendering.wait(30), "the page never asked for the picture"
        final = "data:image/png;base64," + base64.b64encode(png_bytes(np.full((20, 30, 3), 7, np.uint8))).decode()
        # The run's last message, as the event stream delivers it, arrives while that fetch is still open.
        last = dict(status="stopped", iteration=1, total_iterations=10, history=[], final_image=final)
        browser.evaluate(f"show({json.dumps(last)})")
        release.set()
        time.sleep(2.0)  # the old picture arrives now
        assert browser.evaluate("document.getElementById('current').src") == final
        assert browser.evaluate("document.getElementById('status').textContent") == "stopped"
    finally:
        release.set()
        if browser:
            browser.close()
        live.close()


def test_notebook_display_updates_one_picture_and_one_curve_in_place(small_images, monkeypatch):
    import IPython.display

    from neural_style import stylize
    from neural_style.watch import notebook as notebook_view

    shown = []

    class Handle:
        def __init__(self):
            self.updates = []

        def update(self, obj):
            self.updates.append(obj)

    def fake_display(obj, display_id=False):
        handle = Handle()
        shown.append(handle)
        return handle

    monkeypatch.setattr(IPython.display, "display", fake_display)
    monkeypatch.setattr(notebook_view, "UPDATE_SECONDS", 0.0)
    content, style = small_images
    result = stylize(content, style, size=64, iterations=6, scales=1, tolerance=0, quiet=True, display=True)
    picture, curve = shown  # two outputs, updated in place
    # The AdaIN start first, then every step here (no throttle), then the final picture.
    assert len(picture.updates) == 1 + result.iterations + 1
    assert "AdaIN" in picture.updates[0].metadata["caption"]
    final = np.asarray(Image.open(io.BytesIO(picture.updates[-1].data)))
    np.testing.assert_array_equal(final, result.image)
    svg = curve.updates[-1].data
    assert svg.count("<polyline") == 4 and "iteration 6" in svg


def test_an_adain_picture_is_shown_and_the_page_closes_with_the_run(small_images):
    import io as text_io

    from neural_style import stylize

    content, style = small_images
    said = text_io.StringIO()
    result = stylize(content, style, method="adain", size=64, web=0, stream=said, snapshot_every=0)
    url = next(line for line in said.getvalue().splitlines() if line.startswith("live view: ")).split()[2].rstrip(";")
    assert result.image.shape[:2] == (42, 64)  # the 128x85 photo at 64 px
    with pytest.raises(OSError):
        get(on(url, "state"), headers_for(url))  # finished and closed, not left serving a run that never ends


ATTACKER_PAGE = """<!doctype html><html><body><script>
const live = "LIVE", results = {};
async function attempt(name, run) {
  try { results[name] = await run(); } catch (error) { results[name] = "refused: " + error.name; }
}
(async () => {
  await attempt("read the state", () => fetch(live + "/state", {credentials: "include"}).then(r => r.status));
  await attempt("read the state blind", () => fetch(live + "/state", {credentials: "include", mode: "no-cors"})
    .then(r => r.type + " " + r.status));
  await attempt("load the photo", () => new Promise(resolve => {
    const img = new Image(); img.onload = () => resolve("loaded " + img.width); img.onerror = () => resolve("error");
    img.src = live + "/image/content.png";
  }));
  await attempt("press Stop", () => fetch(live + "/stop", {method: "POST", credentials: "include", mode: "no-cors"})
    .then(r => r.type));
  await attempt("press Stop with the header", () => fetch(live + "/stop", {method: "POST", credentials: "include",
    headers: {"X-Neural-Style-Token": "guess"}}).then(r => r.status));
  await attempt("frame the page", () => new Promise(resolve => {
    const frame = document.createElement("iframe"); frame.src = live + "/";
    frame.onload = () => { try { resolve("framed " + frame.contentDocument.body.innerHTML.length); }
                          catch (error) { resolve("refused: " + error.name); } };
    document.body.appendChild(frame); setTimeout(() => resolve("no load"), 3000);
  }));
  window.done = JSON.stringify(results);
})();
</script></body></html>"""


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's chromium package (.ci/run does)")
def test_a_page_on_another_local_port_gets_nothing_in_a_real_browser(view):
    """The user opens the live page in Chromium; then a page served from another port of 127.0.0.1 (another program,
    another user's server) tries to read the state and the photo, to frame the page and to press Stop. It gets
    nothing, the run goes on, and its server never receives the page's token (no cookie carries it)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = []

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self):
            received.append(dict(self.headers.items()))
            body = ATTACKER_PAGE.replace("LIVE", f"http://127.0.0.1:{view.port}").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    view.on_step(Step(iteration=1, evaluations=1, seconds=1.0, total=5.0, terms=dict(content=1.0, style=3.0, tv=1.0)))
    browser = Browser()
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=view.url)  # the user's own page, with its token
        assert poll(lambda: browser.evaluate("document.getElementById('iteration').textContent") == "1" or None)
        browser.call("Page.navigate", url=f"http://127.0.0.1:{attacker.server_address[1]}/")
        results = json.loads(poll(lambda: browser.evaluate("window.done"), seconds=60))
    finally:
        browser.close()
        attacker.shutdown()
    assert results["read the state"].startswith("refused"), results  # 403 without CORS: the fetch fails
    assert results["read the state blind"] == "opaque 0", results  # nothing readable
    assert results["load the photo"] == "error", results
    assert results["press Stop with the header"].startswith("refused"), results  # the preflight is never answered
    assert not results["frame the page"].startswith("framed"), results
    assert not view.stop_requested.is_set()
    assert received and not any(view.access.token in json.dumps(headers) for headers in received)
