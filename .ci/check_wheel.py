"""Run from outside the checkout, in an environment where only the built wheel is installed: the package comes
from site-packages, carries its page and samples, paints a tiny picture, serves the live page's assets, and every
command answers --help."""

import os
import subprocess
import sys
import tempfile
import urllib.request

import numpy as np

images = sys.argv[1]  # the checkout's images/ folder (the wheel does not carry the README's pictures)
command_path = os.path.join(os.path.dirname(sys.executable), "neural-style")  # the wheel's console script

import neural_style  # noqa: E402

assert "site-packages" in neural_style.__file__, f"neural_style imported from {neural_style.__file__}, not the wheel"

for command in ([], ["video"], ["batch"], ["compare"], ["benchmark"], ["sheet"], ["studio"], ["doctor"]):
    done = subprocess.run([command_path, *command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage:" in done.stdout, (command, done.stderr[-500:])

from neural_style.samples import sample_images  # noqa: E402

assert {"chelsea.jpg", "coffee.jpg", "swirls.jpg"} <= set(sample_images()), sample_images()

with tempfile.TemporaryDirectory() as folder:
    output = os.path.join(folder, "tiny.png")
    done = subprocess.run([command_path, os.path.join(images, "chelsea.jpg"), os.path.join(images, "swirls.jpg"),
                           "-o", output, "--size", "64", "--iterations", "3", "--init", "content", "--quiet"],
                          capture_output=True, text=True, cwd=folder)
    assert done.returncode == 0 and os.path.getsize(output) > 1000, done.stderr[-2000:]

from neural_style.watch.live_page import LiveView  # noqa: E402

view = LiveView(0, "127.0.0.1", np.zeros((8, 8, 3), np.uint8), [], 1)
try:
    for path in ("/", "/app.js", "/style.css"):
        with urllib.request.urlopen(view.url.replace("/?", path + "?", 1), timeout=10) as response:
            assert response.status == 200 and len(response.read()) > 500, path
finally:
    view.close()
print(f"wheel: neural_style {neural_style.__version__} from {os.path.dirname(neural_style.__file__)}: --help of every "
      "command, a 64 px picture, the live page's assets, the studio's samples")
