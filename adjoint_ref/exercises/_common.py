"""What the exercise graders share: the test dynamics, random cases, and how an answer is graded.

A grader is a list of `Case(label, grade)`; `grade(fn)` calls the learner's function through `call`
(on copies of its inputs, which must come back unchanged), checks each output with `numeric`
(shape, finite, float64) and compares it with `expect_close`, then either returns (pass,
optionally with a note for the learner) or raises `Wrong` with a message. When an answer misses the
reference but matches a known mistake, the message opens with that mistake's tag (one of the
constants below) and says how to fix it. Every comparison of the current case is logged in
`COMPARISONS`, so that a pass can say how close the answer came.
"""
import copy
import inspect
import os
import traceback
from collections import namedtuple

import autograd.numpy as anp
import numpy as np

from .._impl.metrics import relative_difference

WRONG_SIGN = "wrong sign"
TRANSPOSED = "transposed Jacobian"
MISSING_JUMP = "missing jump"
TIME_DEPENDENCE = "forgot the time dependence of f"
WRONG_DIRECTION = "stepping in the wrong direction"
MUTATED = "changed an input in place"
FLOAT32 = "float32 precision"
PATCHED = "changed the package"

# Two computations of the same formula differ only by the order of rounding errors (~1e-16 each).
EXACT_TOL = 1e-12
# Relative differences in this range, where float64 round-off (1e-16) is expected, are float32's
# (eps 6e-8): smaller when only a small increment was float32, larger once accumulated. A wrong
# formula is off by far more.
FLOAT32_GAPS = (1e-10, 1e-5)
FLOAT64_ADVICE = ("compute in float64, NumPy's default (no dtype=np.float32, .astype(np.float32) or "
                  "np.float32(...) anywhere): the answer must be good to far more than float32's 7 digits")
# Every time span in exercises 4–10 is cut into RK4 steps of at most H_STEP. The graders of 4, 5, 6,
# 8 and 10 (in `_order`) run the learner's function with that many steps and twice as many.
H_STEP = 0.1

Case = namedtuple("Case", ["label", "grade"])
Mistake = namedtuple("Mistake", ["tag", "advice", "value"])
Mistake.__doc__ = """A known wrong answer: `value()` computes it when needed; "tag: advice" is the hint."""
Setting = namedtuple("Setting", ["dim", "batch", "t0", "t1"])

# Dimensions, batch sizes (0: one state) and time spans, one reversed, used by exercises 4–10.
SETTINGS = (Setting(2, 0, 0.0, 1.0), Setting(3, 4, 0.5, 1.7), Setting(1, 3, -0.4, 0.8), Setting(4, 0, 1.2, -0.3))

# (name, relative difference, tolerance) of every `expect_close` in the case being graded.
COMPARISONS = []


class Wrong(Exception):
    """The learner's answer is not right; the message says what differs (and how to fix it)."""


class NotDone(Exception):
    """The learner's code still raises NotImplementedError; the message is that error's."""


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
    """The even number of RK4 steps that cuts [t0, t1] into steps of at most H_STEP (even, so that
    Simpson's rule can use the grid)."""
    return 2 * int(np.ceil(round(abs(t1 - t0) / (2 * H_STEP), 9)))


def describe(setting, n_steps=None):
    """A one-line label for a case: dimension, batch, time span and direction, steps."""
    batch = "one state" if setting.batch == 0 else f"batch of {setting.batch}"
    span = f"t {setting.t0:g} → {setting.t1:g}" + (" (backwards)" if setting.t1 < setting.t0 else "")
    steps = "" if n_steps is None else f", {n_steps} steps"
    return f"D={setting.dim}, {batch}, {span}{steps}"


def call(fn, *args):
    """fn(*copies of args), with the inputs' originals left untouched for the grader's references.

    NotImplementedError becomes NotDone; any other exception, SystemExit and KeyboardInterrupt
    included, a Wrong naming the line; an argument that fn changed in place, a Wrong (MUTATED).
    """
    copies = copy.deepcopy(args)
    try:
        answer = fn(*copies)
    except NotImplementedError as err:
        raise NotDone(f"{err}{_where(err, fn)}" if str(err) else f"{fn.__name__} raises NotImplementedError") from None
    except BaseException as err:  # the learner's code may raise anything, even SystemExit: report it
        raise Wrong(f"{fn.__name__} {raised(err)}{_where(err, fn)}") from None
    for position, (original, passed) in enumerate(zip(args, copies)):
        if not _unchanged(original, passed):
            name = _parameter(fn, position)
            raise Wrong(f"{name}: {MUTATED}: {fn.__name__} changed its argument {name} in place (as "
                        f"`{name} *= -1`, `{name} += …` or `{name}[...] = …` do, also through another name "
                        f"for the same array); the caller still needs it: work on a copy "
                        f"(`{name} = -{name}`, `{name}.copy()`)")
    return answer


def raised(err):
    """How an exception from the learner's code is reported: 'raised KeyError: …', 'called sys.exit(0)…'."""
    if isinstance(err, SystemExit):
        return (f"called sys.exit({err.code!r}) (or exit()), which would end the program: a function "
                "returns its answer instead")
    return f"raised {type(err).__name__}: {err}" if str(err) else f"raised {type(err).__name__}"


def _where(err, fn):
    """' (line N of FILE)': the last line run in the learner's folder before err (fn's file, or another)."""
    folder = os.path.dirname(fn.__code__.co_filename) if hasattr(fn, "__code__") else None
    frames = [fr for fr in traceback.extract_tb(err.__traceback__) if os.path.dirname(fr.filename) == folder]
    return f" (line {frames[-1].lineno} of {frames[-1].filename})" if frames else ""


def _parameter(fn, position):
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    return names[position] if position < len(names) else f"argument {position + 1}"


def _unchanged(original, passed):
    if isinstance(original, np.ndarray):
        return (isinstance(passed, np.ndarray) and passed.shape == original.shape
                and np.array_equal(passed, original, equal_nan=True))
    if isinstance(original, (list, tuple)):
        return (type(passed) is type(original) and len(passed) == len(original)
                and all(map(_unchanged, original, passed)))
    return passed is original or passed == original


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
    """`answer` as a finite float64 array of `shape` (a size-1 array passes for a scalar), else Wrong.

    An answer in float32 (or float16) is Wrong (FLOAT32), and so is a float64 answer whose every
    entry is a float32 number needing more than float16's digits: it was computed in float32 and
    converted at the end (a float64 result lands on a float32 number with probability ~2⁻²⁹).
    """
    try:
        raw = None if answer is None else np.asarray(answer)
        arr = None if raw is None else raw.astype(np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or raw.dtype.kind not in "biuf":
        raise Wrong(f"{name} should be a float array of shape {shape}, got {_kind(answer)}")
    if arr.shape != shape and not (shape == () and arr.size == 1):
        raise Wrong(f"{name} has shape {arr.shape}, expected {shape}")
    if not np.all(np.isfinite(arr)):
        raise Wrong(f"{name} contains NaN or infinity")
    if raw.dtype.kind == "f" and raw.dtype.itemsize < 8:
        raise Wrong(f"{name}: {FLOAT32}: it comes back as {raw.dtype}; {FLOAT64_ADVICE}")
    if np.array_equal(arr.astype(np.float32), arr) and not np.array_equal(arr.astype(np.float16), arr):
        raise Wrong(f"{name}: {FLOAT32}: every entry is a float32 number converted to float64, so it "
                    f"was computed in float32; {FLOAT64_ADVICE}")
    return arr.reshape(shape)


def expect_close(name, answer, expected, tol, mistakes=(), floor=0.0, near=None):
    """Pass if answer is within relative `tol` of `expected`; else raise Wrong, naming a matching mistake.

    Differences are measured by `relative_difference(·, ·, floor)`; a mistake is recognised when the
    answer lies within `near` (default `tol`) of its value. A difference of float32's size where
    round-off is expected (tol < 1e-9) is named too. Returns the difference to `expected`.
    """
    answer = numeric(name, answer, np.shape(expected))
    gap = relative_difference(answer, expected, floor)
    COMPARISONS.append((name, gap, tol))
    if gap <= tol:
        return gap
    recognise(name, answer, mistakes, tol if near is None else near, floor)
    if tol < FLOAT32_GAPS[0] <= gap <= FLOAT32_GAPS[1]:
        raise Wrong(f"{name}: {FLOAT32}: it differs from the reference by {gap:.0e} (relative), the size of "
                    f"float32 round-off where float64 gives 1e-16; {FLOAT64_ADVICE}")
    raise Wrong(f"{name} differs from the reference by {gap:.1e} (relative; tolerance {tol:.0e})")


def recognise(name, answer, mistakes, near, floor=0.0):
    """Raise Wrong with the hint of the first mistake whose value lies within `near` of answer."""
    for mistake in mistakes:
        if relative_difference(answer, mistake.value(), floor) <= near:
            raise Wrong(f"{name}: {mistake.tag}: {mistake.advice}")


def closeness():
    """How close the case's answer came: its worst comparison in COMPARISONS, relative to the tolerance."""
    if not COMPARISONS:
        return ""
    name, gap, tol = max(COMPARISONS, key=lambda row: row[1] / row[2])
    return f"worst relative error {gap:.1e} ({name}), tolerance {tol:.1e}"
