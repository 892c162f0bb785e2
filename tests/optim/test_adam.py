"""Adam: its iterates, and the moving average of them that --adam-average makes the picture."""

import numpy as np

from tests.optim.test_lbfgs import _Quadratic


def test_the_averaged_picture_is_the_bias_corrected_moving_average_of_the_iterates():
    from neural_style.optim.adam import run_adam
    from neural_style.optim.evaluator import Evaluator

    bounds = (np.full(12, -5.0), np.full(12, 5.0))
    iterates, averaged = [], []
    plain = run_adam(Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0"), np.zeros(12), bounds, 20, 0.5,
                     lambda step: iterates.append(step.image.copy()))
    smooth = run_adam(Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0"), np.zeros(12), bounds, 20, 0.5,
                      lambda step: averaged.append(step.image.copy()), average=0.9)
    moving = np.zeros(12)
    for step, iterate in enumerate(iterates, start=1):
        moving = 0.9 * moving + 0.1 * iterate
        np.testing.assert_allclose(averaged[step - 1], moving / (1 - 0.9 ** step), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(smooth.image, averaged[-1])
    np.testing.assert_allclose(plain.image, iterates[-1])
    assert not np.allclose(smooth.image, plain.image)
