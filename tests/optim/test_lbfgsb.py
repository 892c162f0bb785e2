"""The L-BFGS-B driver: scipy's routine without its per-variable loops must take scipy's own steps."""
import numpy as np
import scipy.optimize

from neural_style.optim import lbfgsb


def _problem(n=40, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    hessian, b = a @ a.T / n + 0.1 * np.eye(n), 3 * rng.normal(size=n)

    def value_and_gradient(x):
        return 0.5 * x @ hessian @ x - b @ x + 0.1 * np.sum(x ** 4), hessian @ x - b + 0.4 * x ** 3

    lower, upper = np.full(n, -1.0), np.full(n, 1.0)
    lower[:5], upper[5:10] = -np.inf, np.inf  # every kind of bound: lower only, upper only, both
    return value_and_gradient, lower, upper


def test_the_driver_takes_scipys_steps_exactly():
    function, lower, upper = _problem()
    ours, theirs = [], []
    x, f, info = lbfgsb.fmin_l_bfgs_b(function, np.zeros(40), bounds=(lower, upper), m=5, factr=0, pgtol=0,
                                      maxiter=25, callback=ours.append)
    x_scipy, f_scipy, info_scipy = scipy.optimize.fmin_l_bfgs_b(
        function, np.zeros(40), bounds=np.stack([lower, upper], axis=1), m=5, factr=0, pgtol=0, maxiter=25,
        callback=theirs.append)
    assert len(ours) == len(theirs) > 5
    np.testing.assert_array_equal(np.array(ours), np.array(theirs))
    assert f == f_scipy and info["funcalls"] == info_scipy["funcalls"]
    assert (x >= lower).all() and (x <= upper).all() and (x == upper).any()  # some bounds are active


def test_a_callback_raising_stop_iteration_halts_it():
    function, lower, upper = _problem()
    seen = []

    def stop_at_three(x):
        seen.append(x)
        if len(seen) == 3:
            raise StopIteration

    x, _, info = lbfgsb.fmin_l_bfgs_b(function, np.zeros(40), bounds=(lower, upper), maxiter=100,
                                      callback=stop_at_three)
    assert len(seen) == 3 and "HALT" in info["task"] and info["nit"] == 3
    np.testing.assert_array_equal(x, seen[-1])


def test_the_bound_kinds_are_l_bfgs_bs_codes():
    lower = np.array([-np.inf, 0.0, 0.0, -np.inf])
    upper = np.array([np.inf, np.inf, 1.0, 1.0])
    assert lbfgsb.bound_kinds(lower, upper).tolist() == [0, 1, 2, 3]
