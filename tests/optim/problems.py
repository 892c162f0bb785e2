"""Small optimisation problems with known answers, as objectives the optimisers' Evaluator can call, and scipy's own
L-BFGS-B on the same problem for reference (helpers of tests/optim, not tests)."""

import numpy as np
import scipy.optimize


class Problem:
    """f(x) over a flat vector of `size` values, seen by the optimisers as a 1 x 1 x size x 1 picture."""

    names = ("content", "style", "tv")

    def __init__(self, function, size):
        self.function, self.size = function, size
        self.shape = (1, 1, size, 1)

    def loss_and_gradient(self, image):
        import tensorflow as tf

        x = tf.reshape(tf.cast(image, tf.float64), [-1])
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = self.function(x)
        gradient = tape.gradient(total, x)
        total32 = tf.cast(total, tf.float32)
        return total32, tf.stack([total32, 0.0, 0.0]), tf.reshape(tf.cast(gradient, tf.float32), self.shape)

    def value(self, x):
        import tensorflow as tf

        return float(self.function(tf.constant(np.asarray(x, np.float64).ravel())))

    def value_and_gradient(self, x):
        import tensorflow as tf

        x = tf.constant(np.asarray(x, np.float64))
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = self.function(x)
        return float(total), tape.gradient(total, x).numpy()


def rosenbrock(x):
    return sum_of(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def sum_of(values):
    import tensorflow as tf

    return tf.reduce_sum(values)


def rotated_quadratic(size, condition, seed=0):
    """0.5 (x - c)^T A (x - c) with A = Q diag(1 .. condition) Q^T, Q a random rotation, and the centre c partly
    outside the box [0, 1]."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(size, size)))
    matrix = rotation @ np.diag(np.geomspace(1.0, condition, size)) @ rotation.T
    centre = rng.uniform(-0.5, 1.5, size)
    a, c = tf.constant(matrix), tf.constant(centre)

    def function(x):
        difference = x - c
        return 0.5 * tf.reduce_sum(difference * tf.linalg.matvec(a, difference))

    return function


def scipy_reference(problem, x0, bounds):
    """scipy's L-BFGS-B with its default tolerances, in float64: (objective, iterations, evaluations)."""
    low, high = bounds
    x, value, info = scipy.optimize.fmin_l_bfgs_b(problem.value_and_gradient, np.asarray(x0, np.float64),
                                                  bounds=list(zip(low, high)), m=10, maxiter=15000)
    return value, info["nit"], info["funcalls"]


def solve_on_device(problem, x0, bounds, iterations=5000, tolerance=1e-3, precision="float32"):
    """The device L-BFGS on `problem`: (outcome, the steps it reported)."""
    from neural_style.optim.evaluator import Evaluator
    from neural_style.optim.lbfgs_device import run_device_lbfgs

    steps = []
    evaluator = Evaluator(problem, problem.shape, "/CPU:0")
    outcome = run_device_lbfgs(evaluator, np.asarray(x0, np.float64), bounds, iterations, 10, steps.append,
                               precision, tolerance)
    return outcome, steps
