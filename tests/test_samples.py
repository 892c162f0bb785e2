"""The sample and shared images are found one way, from a checkout and from the wheel (the benchmark pointed at
<repo>/shared/images in one place and ../shared/images in another, and at the checkout's images/, which the wheel
does not ship)."""

import os

from PIL import Image

from neural_style import samples


def test_the_samples_ship_in_the_package():
    found = samples.sample_images()
    assert {"chelsea.jpg", "coffee.jpg", "swirls.jpg"} <= set(found)
    assert all(os.path.dirname(path) == samples.SAMPLES_FOLDER for path in found.values())
    assert Image.open(samples.sample("swirls.jpg")).size == (640, 480)


def test_the_shared_images_are_found_where_they_are_and_missing_ones_are_left_out(tmp_path, monkeypatch):
    from neural_style.benchmarks.measure import sample_pairs

    folder = tmp_path / "shared-images"
    folder.mkdir()
    for name in ("tubingen.jpg", "starry_night.jpg", "the_scream.jpg"):
        Image.new("RGB", (8, 8)).save(folder / name)
    monkeypatch.setenv(samples.SHARED_IMAGES_VARIABLE, str(folder))
    assert samples.shared_images_folder() == str(folder)
    assert samples.shared_images("tubingen.jpg", "golden_gate.jpg") == [str(folder / "tubingen.jpg")]
    pairs = sample_pairs()  # the samples, then only the shared pairs whose two images are both present
    assert pairs[:2] == [(samples.sample("chelsea.jpg"), samples.sample("swirls.jpg")),
                         (samples.sample("coffee.jpg"), samples.sample("swirls.jpg"))]
    assert pairs[2:] == [(str(folder / "tubingen.jpg"), str(folder / "starry_night.jpg"))]


def test_no_shared_folder_means_the_samples_alone(tmp_path, monkeypatch):
    from neural_style.benchmarks.measure import sample_pairs

    monkeypatch.setenv(samples.SHARED_IMAGES_VARIABLE, str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)  # no ../shared beside the current folder,
    monkeypatch.setattr(samples, "CHECKOUT", str(tmp_path / "checkout"))  # nor beside the checkout
    assert samples.shared_images_folder() is None and samples.shared_images("tubingen.jpg") == []
    assert len(sample_pairs()) == 2
