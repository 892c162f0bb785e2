"""The L-BFGS-B driver's states: restarts where the line search failed, the scaled first step, stalls."""

import numpy as np


# --- L-BFGS restarts -----------------------------------------------------------------------------

CURVATURES = np.linspace(1.0, 1000.0, 12).reshape(1, 2, 2, 3).astype(np.float32)


class _Quadratic:
    """0.5 * sum(c * (x - 1)^2), ill-conditioned so L-BFGS needs many iterations, as an Objective:
    enough for the optimiser's plumbing."""

    names = ("content", "style", "tv")

    def loss_and_gradient(self, image):
        import tensorflow as tf

        difference = image - 1.0
        total = 0.5 * tf.reduce_sum(CURVATURES * difference * difference)
        return total, tf.stack([total, 0.0, 0.0]), CURVATURES * difference


def test_lbfgs_restarts_where_its_line_search_failed(monkeypatch):
    from neural_style.optim import lbfgsb

    from neural_style.optim.evaluator import Evaluator
    from neural_style.optim.lbfgs import run_lbfgs

    real = lbfgsb.fmin_l_bfgs_b
    calls = []

    def fails_once_after_two_iterations(func, x0, **kwargs):
        calls.append((x0.copy(), kwargs["maxiter"], np.stack(kwargs["bounds"])))
        if len(calls) == 1:
            kwargs["maxiter"] = 2
            x, f, info = real(func, x0, **kwargs)
            return x, f, dict(info, task="ABNORMAL_TERMINATION_IN_LNSRCH")
        return real(func, x0, **kwargs)

    monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", fails_once_after_two_iterations)
    evaluator = Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0")
    steps = []
    bounds = (np.full(12, -5.0), np.full(12, 5.0))
    outcome = run_lbfgs(evaluator, np.zeros(12), bounds, 6, 5, steps.append)
    assert outcome.reason == "done" and outcome.iterations == 6 == len(steps)
    assert [step.iteration for step in steps] == list(range(1, 7))
    assert calls[1][1] == 4 and not np.array_equal(calls[1][0], calls[0][0])  # from where it stopped


def test_a_start_that_cannot_move_is_retried_with_a_one_grey_level_step(monkeypatch):
    from neural_style.optim import lbfgsb

    from neural_style.optim.evaluator import Evaluator
    from neural_style.optim.lbfgs import run_lbfgs

    calls = []

    def never_moves(func, x0, **kwargs):
        calls.append(np.stack(kwargs["bounds"]))
        func(x0)
        return x0, 0.0, {"task": "ABNORMAL_TERMINATION_IN_LNSRCH"}

    monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", never_moves)
    evaluator = Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0")
    bounds = (np.full(12, -5.0), np.full(12, 5.0))
    outcome = run_lbfgs(evaluator, np.full(12, -3.0), bounds, 6, 5, lambda step: None)
    assert len(calls) == 2  # the plain start, then one scaled start, then it gives up
    # At x = -3 the gradient is -4 c: scipy's variable becomes x / s with s = 1 / sqrt(rms(4 c)), so its
    # first step, the whole gradient, is one grey level (root mean square) in x.
    scale = 1.0 / np.sqrt(np.sqrt(np.mean((4.0 * CURVATURES) ** 2)))
    np.testing.assert_allclose(calls[1], calls[0] / scale, rtol=1e-5)
    assert outcome.iterations == 0
    assert outcome.reason == "L-BFGS ended after 0 iterations: ABNORMAL_TERMINATION_IN_LNSRCH"
    assert evaluator.evaluations == 1  # the start point, evaluated once for both attempts and the scale


def test_a_first_iteration_that_cannot_move_restarts_without_evaluating_its_start_again(monkeypatch):
    from neural_style.optim import lbfgs, lbfgsb
    from neural_style.optim.evaluator import Evaluator
    from neural_style.optim.lbfgs import run_lbfgs

    real = lbfgsb.fmin_l_bfgs_b
    calls = []  # per attempt: the points asked for

    def line_search_that_never_moves_then_real(func, x0, **kwargs):
        asked = []
        calls.append(asked)

        def counted(y):
            asked.append(y.copy())
            return func(y)

        if len(calls) == 1:
            while True:  # trial steps too small to change the loss, until the optimiser gives up on them
                counted(x0 + 1e-12 * len(asked))
        return real(counted, x0, **kwargs)

    monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", line_search_that_never_moves_then_real)
    evaluator = Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0")
    bounds = (np.full(12, -5.0), np.full(12, 5.0))
    outcome = run_lbfgs(evaluator, np.full(12, -3.0), bounds, 40, 5, lambda step: None)
    stalled, scaled = calls
    assert len(stalled) == lbfgs.FIRST_ITERATION_EVALUATIONS + 1  # the last one raised before evaluating
    assert outcome.reason == "done" and outcome.iterations == 40
    # The scaled attempt's first point is the start, already evaluated: only its other points cost.
    assert evaluator.evaluations == lbfgs.FIRST_ITERATION_EVALUATIONS + len(scaled) - 1
    np.testing.assert_allclose(outcome.image, 1.0, atol=0.05)  # and it still finds the minimum


def test_a_cold_start_that_stalls_is_restarted_with_a_one_grey_level_step(small_images, monkeypatch):
    # A loss that has not fallen by STALL_FALL after STALL_ITERATIONS restarts once; here every cold
    # start counts as stalled (a fall of more than 100% is impossible), and a warm one is left alone.
    from neural_style import stylize
    from neural_style.optim import lbfgs

    raised = []
    attempt = lbfgs.LbfgsRun._attempt

    def counted(self):
        ending, reason = attempt(self)
        if ending is lbfgs.Ending.STALLED:
            raised.append(1)
        return ending, reason

    monkeypatch.setattr(lbfgs.LbfgsRun, "_attempt", counted)
    monkeypatch.setattr(lbfgs, "STALL_FALL", 1.01)
    content, style = small_images
    result = stylize(content, style, size=64, iterations=25, scales=1, tolerance=0, quiet=True, optimizer="lbfgs")
    assert len(raised) == 1 and result.iterations == 25 and result.stop_reason == "done"
    assert [s.iteration for s in result.history] == list(range(1, 26))
    raised.clear()
    stylize(content, style, size=64, iterations=25, scales=1, tolerance=0, quiet=True, init=content, optimizer="lbfgs")
    assert raised == []  # a start from an image file is not a cold start


def test_an_early_iteration_of_a_cold_start_that_sticks_is_restarted_with_the_scaled_step(monkeypatch):
    """A cold start's second iteration spends FIRST_ITERATION_EVALUATIONS evaluations without finishing (as
    Tübingen's did at 256 px): the attempt is restarted from the first iterate with the one-grey-level step; a
    warm start's sticking iteration is left to the line search."""
    from neural_style.optim import lbfgs, lbfgsb
    from neural_style.optim.evaluator import Evaluator

    real = lbfgsb.fmin_l_bfgs_b

    def run(cold):
        attempts = []

        def second_iteration_sticks_once(func, x0, **kwargs):
            attempts.append(x0.copy())
            if len(attempts) > 1:
                return real(func, x0, **kwargs)
            func(x0)
            kwargs["callback"](x0 - 0.5)  # the first iterate
            for trial in range(20):  # then trial steps that do not finish an iteration
                func(x0 - 0.5 - 1e-9 * trial)
            return real(func, x0, **dict(kwargs, maxiter=kwargs["maxiter"] - 1))

        monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", second_iteration_sticks_once)
        evaluator = Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0")
        run = lbfgs.LbfgsRun(evaluator, np.full(12, -3.0), (np.full(12, -5.0), np.full(12, 5.0)), 30, 5,
                             lambda step: None, cold_start=cold)
        outcome = run.run()
        return attempts, run, outcome

    attempts, stuck, outcome = run(cold=True)
    assert len(attempts) == 2 and stuck.scaled_start_tried and outcome.iterations == 30
    np.testing.assert_allclose(attempts[1] * stuck.scale, np.full(12, -3.5))  # from the first iterate
    attempts, warm, _ = run(cold=False)
    assert not warm.scaled_start_tried
