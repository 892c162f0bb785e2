"""The walkthrough notebook runs from top to bottom and shows what its text says it shows; the
committed copy carries its outputs, so a reader on a code host sees the pictures."""

import base64
import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO

nbformat = pytest.importorskip("nbformat", reason="install the test extra: pip install -e .[test]")
nbclient = pytest.importorskip("nbclient", reason="install the test extra: pip install -e .[test]")

NOTEBOOK = os.path.join(REPO, "notebooks", "style_transfer_walkthrough.ipynb")


def _pictures(cell):
    return [Image.open(io.BytesIO(base64.b64decode(o["data"]["image/png"])))
            for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def test_committed_notebook_carries_its_pictures():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert sum(len(_pictures(cell)) for cell in notebook.cells) >= 3


def test_walkthrough_notebook_executes_and_shows_what_it_says():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:  # run from a clean slate, not from the committed outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()  # raises CellExecutionError if any cell fails
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    pictures = [picture for cell in code for picture in _pictures(cell)]
    assert len(pictures) >= 3  # the inputs, the result and the snapshot strip
    for picture in pictures:
        assert np.asarray(picture.convert("RGB"), float).std() > 10  # a picture, not a blank

    text = "\n".join(_text(cell) for cell in code)
    layers = re.search(r"layers that run: \[(.*)\]", text).group(1)
    assert layers.rstrip("'").endswith("block5_conv1") and "block5_conv2" not in layers  # cut after conv5_1
    content_terms = dict(re.findall(r"^(content image|white noise)\s+total.*= content\s+([\d.]+)", text, re.MULTILINE))
    assert float(content_terms["content image"]) == 0 < float(content_terms["white noise"])
    assert "block5_conv1   Gram (512, 512)" in text
    result, strip = pictures[-2:]
    assert strip.size == (4 * result.width, result.height)  # snapshots at iterations 10, 20, 30 and 40
