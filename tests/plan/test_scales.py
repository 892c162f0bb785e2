"""The coarse-to-fine schedule: sizes growing by sqrt(2) and the budget split over them."""

from neural_style import StyleConfig
from neural_style.plan.scales import plan_scales, scale_count, split_iterations


def test_scale_sizes_and_the_iteration_split():
    plan = plan_scales(StyleConfig(size=512, iterations=500))  # each sqrt(2) times the previous
    assert [(s.size, s.iterations) for s in plan] == [(256, 125), (362, 125), (512, 250)]
    assert [s.size for s in plan_scales(StyleConfig(size=1024))] == [256, 362, 512, 724, 1024]
    assert [s.size for s in plan_scales(StyleConfig(size=384))] == [192, 272, 384]
    assert [s.size for s in plan_scales(StyleConfig(size=256))] == [256]
    assert [s.size for s in plan_scales(StyleConfig(size=512, scales=2))] == [362, 512]
    assert [s.size for s in plan_scales(StyleConfig(size=512, scales=1))] == [512]
    assert scale_count(StyleConfig(size=2048, init=__file__)) == 1  # resuming from a picture: one scale
    assert scale_count(StyleConfig(size=512, sizing="reference")) == 1
    assert split_iterations(500, 3) == [125, 125, 250] and split_iterations(7, 2) == [3, 4]
    assert len(plan_scales(StyleConfig(size=4096, iterations=2))) == 2  # never more scales than iterations
