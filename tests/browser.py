"""Headless Chromium for the tests that look at a page in a real browser (the live view, the studio)."""

import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

import numpy as np
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (no extra package, no port).

    One page stays open while the test looks at it again and again, so nothing depends on when Chromium
    would have judged the page loaded: the event stream keeps it loading for as long as the run goes.
    """

    def __init__(self, width=1000, height=700):
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        to_browser, self._to = os.pipe()
        self._from, from_browser = os.pipe()
        # Above fd 4, so the shell's redirections below cannot overwrite one of them with the other.
        to_browser, from_browser = (self._above_four(fd) for fd in (to_browser, from_browser))
        # Chromium reads the protocol on fd 3 and writes on fd 4; bash puts the pipes there (dash refuses fds past 9;
        # no preexec_fn, which is unsafe with the run's threads in this process).
        command = ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', CHROMIUM,
                   "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                   "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}", "about:blank"]
        self._log = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen(command, pass_fds=(to_browser, from_browser),
                                         stdout=self._log, stderr=subprocess.STDOUT)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._last_id, self._session = b"", 0, None
        page = self.call("Target.createTarget", url="about:blank")["targetId"]  # a page of its own: no startup race
        self._session = self.call("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    @staticmethod
    def _above_four(fd):
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return moved

    def call(self, method, timeout=60, **params):
        """Send one protocol command and return its result (events in between are skipped)."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if self._session and not method.startswith("Target."):
            message["sessionId"] = self._session
        try:
            os.write(self._to, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise AssertionError(f"Chromium is gone: {self.said()}") from None
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._last_id:
                    assert "error" not in reply, reply["error"]
                    return reply["result"]
            left = deadline - time.monotonic()
            assert left > 0 and select.select([self._from], [], [], left)[0], f"no answer to {method}: {self.said()}"
            chunk = os.read(self._from, 1 << 20)
            assert chunk, f"Chromium closed the pipe: {self.said()}"
            self._buffer += chunk

    def said(self):
        """The end of what Chromium printed, for a failure's message."""
        self._log.seek(0)
        return self._log.read()[-2000:]

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screenshot(self):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")).astype(float)

    def box(self, element_id):
        """An element's rectangle on the screenshot, as row and column slices."""
        r = self.evaluate(f"JSON.stringify(document.getElementById('{element_id}').getBoundingClientRect())")
        r = json.loads(r)
        return slice(int(r["top"]), int(r["bottom"])), slice(int(r["left"]), int(r["right"]))

    def upload(self, selector, paths):
        """Set the files of the file input matching `selector` (CSS), as a user's file chooser would."""
        root = self.call("DOM.getDocument", depth=-1, pierce=True)["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        assert node, f"no element matches {selector!r}"
        self.call("DOM.setFileInputFiles", files=[os.path.abspath(path) for path in paths], nodeId=node)

    def close(self):
        try:
            self.call("Browser.close", timeout=10)  # Chromium's own shutdown ends its helper processes too
            self._process.wait(10)
        except (AssertionError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        os.close(self._to)
        os.close(self._from)
        self._log.close()
        self._profile.cleanup()


def poll(look, seconds=90):
    """The first value look() gives that is not None, looking again every half second; None after seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = look()
        if value is not None:
            return value
        time.sleep(0.5)
    return None
