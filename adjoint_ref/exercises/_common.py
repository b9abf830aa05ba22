"""What the exercise checkers share: the test dynamics, random cases, and how an answer is graded.

A checker is a list of `Case(label, grade)`; `grade(fn)` calls the learner's function through `call`,
compares with `expect_close`, and either returns (pass, optionally with a note for the learner) or
raises `Wrong` with a message. When an answer misses the reference but matches a known mistake, the
message opens with that mistake's tag (one of the constants below) and says how to fix it.
"""
import traceback
from collections import namedtuple

import autograd.numpy as anp
import numpy as np

from ..metrics import relative_difference

WRONG_SIGN = "wrong sign"
TRANSPOSED = "transposed Jacobian"
MISSING_JUMP = "missing jump"
TIME_DEPENDENCE = "forgot the time dependence of f"
WRONG_DIRECTION = "stepping in the wrong direction"

# Two computations of the same formula differ only by the order of rounding errors (~1e-16 each).
EXACT_TOL = 1e-12
# Every time span in exercises 4–8 is cut into RK4 steps of at most H4_STEP. The continuous adjoint
# then differs from backprop (and from finite differences) by RK4's global error C·h⁴. For the test
# dynamics below (‖∂f/∂z‖ ≈ 1, spans ≤ 1.5) C is of order 1 (the reference answers give C ≤ 0.5 on
# seeds 0–5); H4_TOL = 10·h⁴ ≈ 6e-5 leaves room for answers that integrate a little differently.
H4_STEP = 0.05
H4_TOL = 10 * H4_STEP ** 4

Case = namedtuple("Case", ["label", "grade"])
Mistake = namedtuple("Mistake", ["tag", "advice", "value"])
Mistake.__doc__ = """A known wrong answer: `value()` computes it when needed; "tag: advice" is the hint."""
Setting = namedtuple("Setting", ["dim", "batch", "t0", "t1"])

# Dimensions, batch sizes (0: one state) and time spans, one reversed, used by exercises 4–8.
SETTINGS = (Setting(2, 0, 0.0, 1.0), Setting(3, 4, 0.5, 1.7), Setting(1, 3, -0.4, 0.8), Setting(4, 0, 1.2, -0.3))


class Wrong(Exception):
    """The learner's answer is not right; the message says what differs (and how to fix it)."""


class NotDone(Exception):
    """The learner's function still raises NotImplementedError."""


def dynamics(z, theta, t):
    """The test dynamics f(z, θ, t) = tanh(z W + t w), where θ stacks W (D×D) on top of the row w."""
    return anp.tanh(anp.dot(z, theta[:-1]) + t * theta[-1])


def state_shape(setting):
    """(D,) for one state, (B, D) for a batch."""
    return (setting.dim,) if setting.batch == 0 else (setting.batch, setting.dim)


def random_problem(rng, setting):
    """z0, θ and a vector c = ∂L/∂z(t1) drawn for `setting` (θ scaled so that ‖∂f/∂z‖ ≈ 1)."""
    dim = setting.dim
    z0 = rng.normal(size=state_shape(setting))
    theta = np.vstack([rng.normal(size=(dim, dim)) / np.sqrt(dim) * 0.8, rng.normal(size=(1, dim))])
    return z0, theta, rng.normal(size=z0.shape)


def steps_for(t0, t1):
    """The even number of RK4 steps that cuts [t0, t1] into steps of at most H4_STEP (even, so that
    Simpson's rule can use the grid)."""
    return 2 * int(np.ceil(round(abs(t1 - t0) / (2 * H4_STEP), 9)))


def describe(setting, n_steps=None):
    """A one-line label for a case: dimension, batch, time span and direction, steps."""
    batch = "one state" if setting.batch == 0 else f"batch of {setting.batch}"
    span = f"t {setting.t0:g} → {setting.t1:g}" + (" (backwards)" if setting.t1 < setting.t0 else "")
    steps = "" if n_steps is None else f", {n_steps} steps"
    return f"D={setting.dim}, {batch}, {span}{steps}"


def call(fn, *args):
    """fn(*args); NotImplementedError becomes NotDone, any other exception a Wrong naming the line."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise NotDone() from None
    except Exception as err:  # the learner's code may raise anything; report it, do not crash
        raise Wrong(f"{fn.__name__} raised {type(err).__name__}: {err}{_where(err, fn)}") from None


def _where(err, fn):
    frames = [fr for fr in traceback.extract_tb(err.__traceback__) if fr.filename == fn.__code__.co_filename]
    return f" (line {frames[-1].lineno} of {frames[-1].filename})" if frames else ""


def outputs(answer, names):
    """The learner's tuple of results, checked to hold one entry per name."""
    if not isinstance(answer, (tuple, list)) or len(answer) != len(names):
        raise Wrong(f"expected a tuple ({', '.join(names)}), got {_kind(answer)}")
    return answer


def _kind(value):
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} of shape {np.shape(value)}" if value is not None else "None (no return?)"


def numeric(name, answer, shape):
    """`answer` as a finite float64 array of `shape` (a size-1 array passes for a scalar), else Wrong."""
    try:
        arr = None if answer is None else np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None:
        raise Wrong(f"{name} should be a float array of shape {shape}, got {_kind(answer)}")
    if arr.shape != shape and not (shape == () and arr.size == 1):
        raise Wrong(f"{name} has shape {arr.shape}, expected {shape}")
    if not np.all(np.isfinite(arr)):
        raise Wrong(f"{name} contains NaN or infinity")
    return arr.reshape(shape)


def expect_close(name, answer, expected, tol, mistakes=(), floor=0.0, near=None):
    """Pass if answer is within relative `tol` of `expected`; else raise Wrong, naming a matching mistake.

    Differences are measured by `relative_difference(·, ·, floor)`; a mistake is recognised when the
    answer lies within `near` (default `tol`) of its value. Returns the difference to `expected`.
    """
    answer = numeric(name, answer, np.shape(expected))
    gap = relative_difference(answer, expected, floor)
    if gap <= tol:
        return gap
    for mistake in mistakes:
        if relative_difference(answer, mistake.value(), floor) <= (tol if near is None else near):
            raise Wrong(f"{name}: {mistake.tag}: {mistake.advice}")
    raise Wrong(f"{name} differs from the reference by {gap:.1e} (relative; tolerance {tol:.0e})")
