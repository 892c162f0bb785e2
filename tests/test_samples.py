"""The sample images are found one way, from a checkout and from the wheel, and are the only images the package
reads of its own."""

import os

from PIL import Image

from neural_style import samples


def test_the_samples_ship_in_the_package():
    found = samples.sample_images()
    assert {"chelsea.jpg", "coffee.jpg", "swirls.jpg"} <= set(found)
    assert all(os.path.dirname(path) == samples.SAMPLES_FOLDER for path in found.values())
    assert Image.open(samples.sample("swirls.jpg")).size == (640, 480)


def test_the_benchmarks_pairs_are_the_samples_alone(tmp_path, monkeypatch):
    """The package reads no images outside itself (not ../shared beside the working folder or the checkout)."""
    from neural_style.benchmarks.measure import sample_pairs

    (tmp_path / "shared" / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "shared" / "images" / "tubingen.jpg")
    monkeypatch.chdir(tmp_path / "shared")
    assert sample_pairs() == [(samples.sample("chelsea.jpg"), samples.sample("swirls.jpg")),
                              (samples.sample("coffee.jpg"), samples.sample("swirls.jpg"))]
