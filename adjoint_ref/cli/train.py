"""Fit a Neural ODE to a spiral with adjoint gradients (`adjoint-ref train`): the post's step 4,
"use the gradient to update the network parameters θ", made into a loop.

The data are a damped pendulum observed at many times (`models.spiral_data`); the learner is an
autonomous tanh MLP (`models.autonomous_mlp_dynamics`). As in torchdiffeq's demo, each iteration
draws a batch of short time windows: a window starts from one observation and is solved over the
next few observation times, all windows together as one batch of states. Short windows keep each
gradient cheap and avoid the poor local minima of fitting the whole spiral from one starting point.
The loss reported before and after training is over all observed points: one solve from the first
observation through every observation time.
"""
import time
from collections import namedtuple

import autograd.numpy as anp
import numpy as np
from autograd.misc.optimizers import adam

from ..api import gradients, odeint
from .._impl.files import FileError, read_npz, write_atomically
from .._impl.memory import MEMORY_LIMIT
from .._impl.validate import steps_of_size
from ..problems.models import autonomous_mlp_dynamics, mlp_init, spiral_data

PARAMETER_NAMES = ("W1", "b1", "c1", "W2", "b2")
N_OBSERVATIONS = 300  # observation times of the spiral that `fit` trains on

Fit = namedtuple("Fit", ["data", "theta", "n_steps", "history", "checkpoints", "seconds"])
Fit.__doc__ = """A training run: the data, the learned θ, the RK4 steps per interval, the window loss
of every iteration, (iteration, trajectory loss) at every progress line, and the training time."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or a termination signal turned into KeyboardInterrupt) during training, with the
    parameters reached: `theta` after `iterations` Adam steps; `cause` is the KeyboardInterrupt caught."""

    def __init__(self, theta, iterations, iters, cause=None):
        what = (str(cause) if cause is not None else "") or "interrupted"
        super().__init__(f"{what} after {iterations} of {iters} Adam iterations")
        self.theta, self.iterations, self.cause = theta, iterations, cause


def initial_parameters(hidden, seed):
    """θ for a 2 → hidden → 2 autonomous MLP: `mlp_init` with the (unused) time weights c1 at 0."""
    theta = mlp_init(2, hidden, seed)
    theta["c1"] = np.zeros(hidden)
    return theta


def window_batch(observed, window, batch, rng):
    """`batch` distinct random windows of `window` consecutive observations.

    Returns the starting states, shape (batch, 2), and the targets, shape (window, batch, 2),
    with targets[k] the observations k steps after each start.
    """
    starts = rng.choice(len(observed) - window + 1, size=batch, replace=False)
    targets = np.stack([observed[starts + k] for k in range(window)])
    return targets[0], targets


def mean_squared_error(targets):
    """The loss L(zs) = mean of (zs − targets)² over every time after the first, state and coordinate."""
    def loss(zs):
        return anp.mean((zs[1:] - targets[1:]) ** 2)
    return loss


def trajectory_loss(theta, data, n_steps):
    """The loss over all observed points: solve from the first observation through every time."""
    zs = odeint(autonomous_mlp_dynamics, data.observed[0], theta, data.ts, n_steps)
    return float(mean_squared_error(data.observed)(zs))


def check_settings(n_times, window, batch):
    """Raise ValueError unless `batch` distinct windows of `window` observations fit in `n_times` observations."""
    if window < 2:
        raise ValueError(f"window must hold at least 2 observation times, got {window}")
    available = n_times - window + 1
    if available < 1:
        raise ValueError(f"window ({window}) is longer than the {n_times} observations")
    if not 1 <= batch <= available:
        raise ValueError(f"batch must be between 1 and {available} (the number of distinct windows), "
                         f"got {batch}")


def train(data, theta, iters, batch, window, n_steps, step_size, method="adjoint", seed=0, every=100,
          log=print):
    """Adam on the window loss for `iters` iterations; returns a Fit.

    Every `every` iterations (and after the last) it logs the iteration, the window loss, the loss
    over all observed points, the seconds elapsed and an estimate of the seconds remaining.
    Ctrl-C (KeyboardInterrupt) once Adam has started raises `Interrupted`, which holds the
    parameters reached so far.
    """
    check_settings(len(data.ts), window, batch)
    window_ts = data.ts[:window] - data.ts[0]  # equal spacing: every window has these times
    rng = np.random.default_rng(seed)
    history, checkpoints = [], []
    start = time.perf_counter()
    reached = [theta, 0]  # θ after the Adam iterations done so far, for `Interrupted`

    def gradient(theta, i):
        reached[:] = theta, i
        z0, targets = window_batch(data.observed, window, batch, rng)
        g = gradients(mean_squared_error(targets), autonomous_mlp_dynamics, z0, theta, window_ts,
                      n_steps, method)
        history.append(g.loss)
        return g.theta

    def progress(theta, i, g):
        if i > 0 and i % every == 0:
            report(theta, i)

    def report(theta, i):
        full = trajectory_loss(theta, data, n_steps)
        checkpoints.append((i, full))
        elapsed = time.perf_counter() - start
        remaining = f"~{elapsed / i * (iters - i):.1f} s remaining" if i > 0 else ""
        window_loss = f"{history[-1]:.3e}" if history else "-"
        log(f"iter {i:5d}/{iters}  window loss {window_loss:>9}  trajectory loss {full:.3e}  "
            f"{elapsed:6.1f} s elapsed  {remaining}".rstrip())

    report(theta, 0)
    if iters > 0:
        try:
            theta = adam(gradient, theta, callback=progress, num_iters=iters, step_size=step_size)
            reached[:] = theta, iters
            report(theta, iters)
        except KeyboardInterrupt as stop:
            raise Interrupted(*reached, iters, stop) from None
    return Fit(data, theta, n_steps, history, checkpoints, time.perf_counter() - start)


def save_parameters(path, theta, replace=True):
    """Write θ (the MLP's arrays) to a .npz file, atomically (`files.write_atomically`); with
    replace=False an existing file is kept (`files.OutputTaken`)."""
    write_atomically(path, parameters_writer(theta), replace)


def parameters_writer(theta):
    """write(handle) that saves θ's arrays as an .npz archive, for `files.write_together`."""
    return lambda handle: np.savez(handle, **theta)


def expected_shapes(hidden):
    """The shapes of θ's arrays for a 2 → hidden → 2 MLP."""
    return {"W1": (2, hidden), "b1": (hidden,), "c1": (hidden,), "W2": (hidden, 2), "b2": (2,)}


def _check_headers(path):
    """check(headers) for `files.read_npz`: the names, dtypes and shapes of θ, judged before any data is read."""
    def check(headers):
        if sorted(headers) != sorted(PARAMETER_NAMES):
            raise FileError(f"{path}: expected the arrays {', '.join(PARAMETER_NAMES)}, found "
                            f"{', '.join(sorted(headers)) or 'none'}")
        not_real = [f"{name} ({headers[name][1]})" for name in PARAMETER_NAMES if headers[name][1].kind not in "biuf"]
        if not_real:
            raise FileError(f"{path}: arrays of real numbers expected, got {', '.join(not_real)}")
        shape = headers["b1"][0]
        expected = expected_shapes(shape[0] if len(shape) == 1 else -1)
        wrong = [f"{name} {headers[name][0]}" for name in PARAMETER_NAMES if tuple(headers[name][0]) != expected[name]]
        if wrong:
            raise FileError(f"{path}: shapes do not form a 2 → hidden → 2 MLP: {', '.join(wrong)}")
    return check


def load_parameters(path):
    """θ from a .npz file written by `save_parameters`, checked; `files.FileError` (a ValueError) names
    the first check that failed: the file itself (`files.read_npz`), then, from the .npy headers before
    any data is read, the arrays W1, b1, c1, W2, b2 and nothing else, real numbers, the shapes of a
    2 → hidden → 2 MLP and at most `memory.MEMORY_LIMIT` bytes in all; then all finite."""
    stored = read_npz(path, MEMORY_LIMIT, _check_headers(path))
    theta = {name: stored[name].astype(np.float64) for name in PARAMETER_NAMES}
    non_finite = [f"{name} ({np.sum(~np.isfinite(theta[name]))})" for name in PARAMETER_NAMES
                  if not np.all(np.isfinite(theta[name]))]
    if non_finite:
        raise FileError(f"{path}: non-finite values (NaN or inf) in {', '.join(non_finite)}")
    return theta


def fit(iters=1000, seed=0, hidden=32, load=None, method="adjoint", noise=0.02, batch=20, window=20, steps=1,
        lr=0.005, every=100, step_size=None, log=print):
    """The training run of `adjoint-ref train`, whose options are these keyword arguments; returns a Fit.

    θ starts from the .npz file `load` when it is given (the file then fixes the hidden size), else
    from `initial_parameters(hidden, seed)`; `steps` are RK4 steps per interval, `lr` Adam's step size.
    step_size=h instead of steps takes ⌈0.05 / h⌉ RK4 steps on every interval (the observations are
    0.05 apart, so every interval gets the same number).
    """
    data = spiral_data(n_times=N_OBSERVATIONS, noise=noise, seed=seed)
    if step_size is not None:
        steps = max(steps_of_size(step_size, data.ts))
    theta = load_parameters(load) if load else initial_parameters(hidden, seed)
    n_params = sum(leaf.size for leaf in theta.values())
    log(f"adjoint-ref train: {len(data.ts)} observations of a damped pendulum on [0, {data.ts[-1]:g}], "
        f"noise {noise:g}; MLP 2-{theta['b1'].size}-2 ({n_params} parameters); {iters} Adam "
        f"iterations, {batch} windows of {window} times, {steps} RK4 step(s) per interval, "
        f"{method} gradients, seed {seed}")
    return train(data, theta, iters, batch, window, steps, lr, method, seed, every, log)
