"""The three gradient methods side by side on one problem (what `adjoint-ref check` prints).

`compare` gives, for each of z0, θ and ts, the relative differences adjoint vs backprop, adjoint vs
finite differences and backprop vs finite differences, and the time per gradient of each method.
"""
import time

import numpy as np

from .metrics import relative_difference
from .api import gradients

PAIRS = (("adjoint", "backprop"), ("adjoint", "finite_differences"), ("backprop", "finite_differences"))
SHORT = {"adjoint": "adjoint", "backprop": "backprop", "finite_differences": "FD"}


def timed_gradients(problem, n_steps, method, repeat, **solver):
    """The gradients by `method` and the best wall-clock time of `repeat` runs, in seconds; `solver`
    holds `gradients`' solver options (solver="dopri5", rtol=..., with n_steps=None)."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = gradients(problem.loss, problem.f, problem.z0, problem.theta, problem.ts, n_steps, method, **solver)
        best = min(best, time.perf_counter() - start)
    return result, best


def compare(problem, n_steps, repeat=1, **solver):
    """Relative differences {(quantity, pair): value} and times {method: seconds} on `problem`
    (`solver` as in `timed_gradients`)."""
    results, times = {}, {}
    for method in ("adjoint", "backprop", "finite_differences"):
        results[method], times[method] = timed_gradients(problem, n_steps, method, repeat, **solver)
    diffs = {(q, pair): relative_difference(getattr(results[pair[0]], q), getattr(results[pair[1]], q))
             for q in ("z0", "theta", "ts") for pair in PAIRS}
    return diffs, times
