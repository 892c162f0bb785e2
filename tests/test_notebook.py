"""The walkthrough notebook runs from top to bottom (its cells assert what they show)."""

import os

import pytest

nbformat = pytest.importorskip("nbformat", reason="install the test extra: pip install -e .[test]")
nbclient = pytest.importorskip("nbclient", reason="install the test extra: pip install -e .[test]")

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks",
                        "style_transfer_walkthrough.ipynb")


def test_walkthrough_notebook_executes():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # the inputs, the result and the snapshot strip
