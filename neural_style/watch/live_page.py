"""The live view: a small local web page that shows a run as it goes (`--web [PORT]`).

The standard library's threaded HTTP server and server-sent events, no framework: the page needs one
stream of small JSON messages (one per iteration) and a few images, which is what SSE does, over plain
HTTP, with the browser reconnecting by itself. Pictures are rendered and PNG-encoded only when a page
asks for them, so an iteration costs the server one small JSON message. Every asset ships in the
package (`web/`); nothing is fetched from the internet. Anything but the routes below is a 404, and every request
must come from the page's own origin, name its address and (but for the page's script and style) bring the page's
token in a header its script sends (access.py): anyone else gets a 403. The server is bounded: at most
MAX_CONNECTIONS at once, each waiting at most REQUEST_TIMEOUT seconds for a request, so a crowd of slow clients
cannot hold the page; a client that goes away is forgotten silently.

    GET  /                    the page            GET /state               the run's state, JSON
    GET  /events              the state, as SSE   GET /image/current.png   the current picture
    GET  /image/content.png   the content image   GET /image/style/N.png   style image N (from 0)
    POST /stop                end the run as Ctrl-C does (picture and log saved)
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import timeout as SocketTimeout
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np

from neural_style.watch.access import SECURITY_HEADERS, Access
from neural_style.errors import NeuralStyleError
from neural_style.step import Step
from neural_style.watch.events import json_values
from neural_style.watch.live_run import LiveRun, RunState, png_bytes

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
KEEPALIVE_SECONDS = 10.0  # an SSE comment this often keeps proxies and the browser from closing the stream
FINAL_GRACE_SECONDS = 3.0  # how long the end waits for open pages to receive the final message
MAX_CONNECTIONS = 128  # connections served at once; more are closed at once
REQUEST_TIMEOUT = 5.0  # seconds a connection may take to send its request (and to take each write)


class LiveView(LiveRun):
    """A LiveRun served on a local page: the server shows the state; `finish` also gives open pages a moment to
    receive the end, then stops serving."""

    def __init__(self, port: int, host: str, content: np.ndarray, styles: Sequence[np.ndarray],
                 total_iterations: int, render: Optional[Callable[[Step], np.ndarray]] = None) -> None:
        super().__init__(total_iterations, render)
        self._images = {"/image/content.png": png_bytes(content)}
        self._images.update({f"/image/style/{index}.png": png_bytes(style) for index, style in enumerate(styles)})
        self._server = _bind(host, port, self)
        self.port = self._server.server_address[1]
        self.access = Access(host, self.port)
        self.url = self.access.url()  # with the token: the address the start line prints
        self._thread = threading.Thread(target=self._server.serve_forever, name="neural-style web view", daemon=True)
        self._thread.start()

    def finish(self, final: Optional[np.ndarray], status: str, message: str = "") -> None:
        """Show the final picture and `status`, give open pages a moment to receive it, then stop serving."""
        super().finish(final, status, message)
        deadline = time.monotonic() + FINAL_GRACE_SECONDS
        while self._server.open_streams and time.monotonic() < deadline:
            time.sleep(0.05)
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def image(self, path: str) -> Optional[bytes]:
        return self.current_png() if path == "/image/current.png" else self._images.get(path)

    def final_message(self) -> Dict[str, Any]:
        """The last SSE message: the state, with the final picture inlined (the server stops right after)."""
        summary = self.state.summary()
        picture = self.current_png()
        if picture is not None:
            summary["final_image"] = "data:image/png;base64," + base64.b64encode(picture).decode("ascii")
        summary["history"] = self.state.history
        return summary


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use must be refused, not shared

    def __init__(self, address: tuple, view: LiveView) -> None:
        self.view = view
        self.open_streams = 0
        self.streams_lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):  # full: this one is closed, the ones served go on
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or was too slow is no error of the run's: nothing is printed."""


def _bind(host: str, port: int, view: LiveView) -> _Server:
    try:
        return _Server((host, port), view)
    except OSError as error:
        if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise NeuralStyleError(f"port {port} is in use: pass a free one with --web PORT") from None
        raise NeuralStyleError(f"cannot serve the live view on {host}:{port} ({error.strerror or error}): "
                               "pass another --web PORT or --web-host") from None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, SocketTimeout, OSError):
            pass  # the client went away or stalled: forgotten

    def log_message(self, format: str, *args: Any) -> None:  # the run's own lines are the log
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self) -> None:
        self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _refused(self) -> bool:
        """Answer 403 to a request from anyone but the page's user (access.py); True if it was refused."""
        access = self.server.view.access
        headers = {name.lower(): value for name, value in self.headers.items()}
        public = self.path.split("?", 1)[0] in STATIC and self.path.split("?", 1)[0] != "/"
        reason = access.refusal(self.command, self.path, headers, public=public)
        if reason is not None:
            self._send(HTTPStatus.FORBIDDEN, f"forbidden: {reason}\n".encode(), "text/plain; charset=utf-8")
            return True
        return False

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():  # every answer, refusals included
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self) -> None:
        if self._refused():
            return
        path = self.path.split("?", 1)[0]
        view = self.server.view
        if path in STATIC:
            name, content_type = STATIC[path]
            with open(os.path.join(ASSETS, name), "rb") as stream:
                self._send(HTTPStatus.OK, stream.read(), content_type)
        elif path == "/state":
            with view.state.changed:
                summary = dict(view.state.summary(), history=view.state.history)
            self._send(HTTPStatus.OK, to_json(summary), "application/json")
        elif path == "/events":
            self._events()
        elif path.startswith("/image/"):
            picture = view.image(path)
            if picture is None:
                self._not_found()
            else:
                self._send(HTTPStatus.OK, picture, "image/png")
        else:
            self._not_found()

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if self._refused():
            return
        if self.path.split("?", 1)[0] != "/stop":
            self._not_found()
            return
        self.server.view.stop_requested.set()
        self._send(HTTPStatus.ACCEPTED, b'{"stopping": true}', "application/json")

    def _events(self) -> None:
        view = self.server.view
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with self.server.streams_lock:
            self.server.open_streams += 1
        try:
            seen = -1
            while True:
                with view.state.changed:
                    if view.state.version == seen and view.state.status in ("starting", "running"):
                        view.state.changed.wait(KEEPALIVE_SECONDS)
                    version, status = view.state.version, view.state.status
                    summary = view.state.summary()
                    if seen < 0:
                        summary["history"] = view.state.history  # a new page gets the curve so far
                if status not in ("starting", "running"):
                    self._event(view.final_message())
                    return
                if version == seen:
                    self.wfile.write(b": keepalive\n\n")
                else:
                    self._event(summary)
                    seen = version
                self.wfile.flush()
        except (ConnectionError, SocketTimeout, OSError):
            pass  # the page was closed
        finally:
            with self.server.streams_lock:
                self.server.open_streams -= 1

    def _event(self, message: Dict[str, Any]) -> None:
        self.wfile.write(b"data: " + to_json(message) + b"\n\n")
        self.wfile.flush()


def to_json(message: Dict[str, Any]) -> bytes:
    return json.dumps(json_values(message)).encode()


def open_live_view(watch: Any, content: np.ndarray, styles: Sequence[np.ndarray], iterations: int,
                   notify: Callable[[str], None]) -> LiveView:
    """The live view of a run with `watch.web` (a port; 0 lets the system choose), before any work:
    a port in use is a one-line error here. `content` and `styles` are shown as given (the run's size)."""
    view = LiveView(watch.web, watch.web_host, content, styles, iterations)
    where = "" if watch.web_host in ("127.0.0.1", "localhost", "::1") else (
        f" (listening on {watch.web_host}: other machines can reach it)")
    notify(f"live view: {view.url}{where}; its Stop button ends the run as Ctrl-C does")
    return view


__all__ = ["LiveView", "LiveRun", "RunState", "open_live_view", "png_bytes"]
