"""The style strength's calibration: on the sample painting it changes nothing; on a dark, low-contrast painting it
gives the style term the sample's measure; it is a function of the targets, so tiles and masks stay exact; the
strength multiplies the style weight; the looks are strengths."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance

from neural_style.config import PRESETS, STYLE_CALIBRATIONS, StyleConfig, build_config, validate
from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import preprocess
from neural_style.objective.build import build_objective, terms_for
from neural_style.plan.sizes import plan_sizes
from neural_style.samples import sample
from neural_style.run.sources import load_sources, prepare_images


def _style_term(extractor, config, style_path, size=96, tile=0, picture=None):
    config = config.with_options(content=sample("chelsea.jpg"), styles=[style_path], size=size, precision="float32")
    content, styles = prepare_images(config)
    objective = build_objective(config, extractor, content, styles, tile=tile)
    image = tf.constant(preprocess(content if picture is None else picture))
    return float(objective.term_values(image)["style"])


@pytest.fixture(scope="module")
def dark_painting(tmp_path_factory):
    path = tmp_path_factory.mktemp("dark") / "dark_swirls.jpg"
    image = Image.open(sample("swirls.jpg")).convert("RGB")
    ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(0.35)).enhance(0.6).save(path, quality=95)
    return str(path)


@pytest.mark.parametrize("style_loss", ["gram", "wasserstein"])
def test_on_the_sample_pair_calibration_changes_nothing_at_the_photo(extractor, style_loss):
    """Both calibrations are measured in the sample's units: on the sample painting, at the photo, at the size the
    references were measured, each gives today's loss (gradient normalisation departs from it as the picture moves)."""
    values = {calibration: _style_term(extractor, StyleConfig(style_calibration=calibration, style_loss=style_loss),
                                       sample("swirls.jpg"), size=512) for calibration in STYLE_CALIBRATIONS}
    assert values["target"] == pytest.approx(values["off"], rel=1e-4)
    assert values["gradient"] == pytest.approx(values["off"], rel=1e-3)


def test_gradient_normalisation_keeps_the_pull_near_the_target(extractor):
    """crowsonkb's candidate: as the picture nears the painting its loss shrinks like the difference, not its
    square, so the style pull does not fade: halfway from the painting's own statistics, 'off' falls more."""
    config = StyleConfig(content=sample("chelsea.jpg"), styles=[sample("swirls.jpg")], size=96)
    photo, (painting,) = prepare_images(config)
    near = (0.2 * photo + 0.8 * np.asarray(Image.fromarray(painting).resize(photo.shape[1::-1]))).astype(np.uint8)

    def loss(calibration, picture):
        return _style_term(extractor, StyleConfig(style_calibration=calibration), sample("swirls.jpg"),
                           picture=picture)

    falls = {calibration: loss(calibration, near) / loss(calibration, photo) for calibration in ("off", "gradient")}
    assert falls["gradient"] > 1.5 * falls["off"]


def test_the_sliced_loss_is_calibrated_in_the_samples_units(extractor):
    """The sliced term's own scale estimates the Wasserstein term's (the features' second moment, through random unit
    directions): on the sample painting at the photo, calibrated is within the directions' spread of uncalibrated
    (measured 0.88-1.15 per layer), not equal to it."""
    values = {calibration: _style_term(extractor, StyleConfig(style_calibration=calibration, style_loss="sliced"),
                                       sample("swirls.jpg"), size=512) for calibration in ("off", "target")}
    assert values["target"] == pytest.approx(values["off"], rel=0.15) and values["target"] != values["off"]


@pytest.mark.parametrize("style_loss", ["gram", "wasserstein", "sliced"])
def test_a_dark_painting_gets_the_samples_measure(extractor, dark_painting, style_loss):
    """Off, the dark copy's Gram loss (at the photo) is a quarter of the bright painting's: its weight would barely
    move the photo. Calibrated, the two are of one size (measured: Gram 0.25 -> 1.7; Wasserstein, whose means already
    set the dark copy apart, 0.69 -> 2.5)."""
    def ratio(calibration):
        config = StyleConfig(style_calibration=calibration, style_loss=style_loss)
        return (_style_term(extractor, config, dark_painting)
                / _style_term(extractor, config, sample("swirls.jpg")))

    off, calibrated = ratio("off"), ratio("target")
    assert 0.33 < calibrated < 3.0 and calibrated > 2 * off
    if style_loss == "gram":
        assert off < 0.35


@pytest.mark.parametrize("calibration", ["target", "gradient"])
@pytest.mark.parametrize("style_loss", ["gram", "wasserstein"])
def test_calibrated_tiles_equal_the_whole_picture(extractor, dark_painting, style_loss, calibration):
    config = StyleConfig(style_calibration=calibration, style_loss=style_loss, tile_halo=80)
    whole = _style_term(extractor, config, dark_painting, size=112)
    tiled = _style_term(extractor, config, dark_painting, size=112, tile=48)
    assert tiled == pytest.approx(whole, rel=2e-4)


def test_calibrated_masks_run_and_a_white_mask_is_no_mask(extractor, dark_painting, tmp_path):
    white = tmp_path / "white.png"
    Image.new("L", Image.open(sample("chelsea.jpg")).size, 255).save(white)
    base = StyleConfig(content=sample("chelsea.jpg"), styles=[dark_painting], size=96, precision="float32",
                       style_calibration="target")
    values = []
    for config in (base, base.with_options(masks=(str(white),))):
        sources = load_sources(config)
        sizes = plan_sizes(sources.content.size, sources.style_sizes, 96)
        content, styles = sources.at(sizes)
        objective = build_objective(config, extractor, content, styles, masks=sources.masks_at(sizes))
        values.append(float(objective.term_values(tf.constant(preprocess(content)))["style"]))
        assert [term.name for term in terms_for(config)] == ["content", "style", "tv"]
    assert values[1] == pytest.approx(values[0], rel=1e-4)


def test_the_strength_multiplies_the_style_weight_and_the_looks_are_strengths(extractor):
    one = _style_term(extractor, StyleConfig(), sample("swirls.jpg"))
    assert _style_term(extractor, StyleConfig(style_strength=2.5), sample("swirls.jpg")) == pytest.approx(2.5 * one)
    assert _style_term(extractor, StyleConfig(style_strength=0.0), sample("swirls.jpg")) == 0.0
    assert [build_config(None, look).style_strength for look in ("subtle", "balanced", "strong")] == [
        PRESETS["subtle"]["style_strength"], 1.0, PRESETS["strong"]["style_strength"]]
    assert PRESETS["subtle"]["style_strength"] < 1.0 < PRESETS["strong"]["style_strength"]
    assert StyleConfig(style_weight=2e4, style_strength=3.0).resolved_loss_weights().style == pytest.approx(6e4)


def test_auto_calibrates_where_the_references_hold_and_refuses_target_elsewhere():
    assert StyleConfig().resolved_style_calibration() == "target"
    assert build_config(None, "reference").resolved_style_calibration() == "off"
    assert StyleConfig(weights="imagenet").resolved_style_calibration() == "off"
    assert StyleConfig(style_calibration="off").resolved_style_calibration() == "off"
    for options in ({"weights": "imagenet"}, {"style_normalization": "chapter"}):
        with pytest.raises(NeuralStyleError, match="--style-calibration off"):
            validate(StyleConfig(content=sample("chelsea.jpg"), styles=[sample("swirls.jpg")],
                                 style_calibration="target", **options))
