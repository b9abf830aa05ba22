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
from ._guard import LEARNER, SHORTCUTS, shortcut_message

WRONG_SIGN = "wrong sign"
TRANSPOSED = "transposed Jacobian"
MISSING_JUMP = "missing jump"
TIME_DEPENDENCE = "forgot the time dependence of f"
WRONG_DIRECTION = "stepping in the wrong direction"
MUTATED = "changed an input in place"
FLOAT32 = "float32 precision"
PATCHED = "changed the package"
APPROXIMATION = "close, but not exact"

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


def polynomial(z, theta, t):
    """f(z, θ, t) = z W − z³/10 + t a + t² b, a polynomial in z and t; θ stacks W (D×D), a and b."""
    return anp.dot(z, theta[:-2]) - 0.1 * z ** 3 + t * theta[-2] + t ** 2 * theta[-1]


def rotation(z, theta, t):
    """f(z, θ, t) = z (S − Sᵀ) − z/10 + sin(3t) w, a damped rotation with a t-dependent forcing; θ = [S; w]."""
    S = theta[:-1]
    return anp.dot(z, S - anp.transpose(S)) - 0.1 * z + anp.sin(3 * t) * theta[-1]


def mlp(z, theta, t):
    """f(z, θ, t) = tanh(z W1 + b1 + t c) W2, an MLP whose θ is a dict {"W1", "b1", "c", "W2"}."""
    return anp.dot(anp.tanh(anp.dot(z, theta["W1"]) + theta["b1"] + t * theta["c"]), theta["W2"])


def rotation_list(z, theta, t):
    """`rotation` with θ the list [S, w] instead of one stacked array."""
    S, w = theta
    return anp.dot(z, S - anp.transpose(S)) - 0.1 * z + anp.sin(3 * t) * w


Dynamics = namedtuple("Dynamics", ["name", "f", "draw"])
Dynamics.__doc__ = """A test dynamics: its label, f(z, θ, t), and draw(rng, D), a random θ for states of size D."""
TANH = Dynamics("tanh(z W + t w), θ one array", dynamics,
                lambda rng, d: np.vstack([rng.normal(size=(d, d)) / np.sqrt(d) * 0.8, rng.normal(size=(1, d))]))
POLYNOMIAL = Dynamics("z W − z³/10 + t a + t² b, θ one array", polynomial,
                      lambda rng, d: np.vstack([rng.normal(size=(d, d)) / np.sqrt(d) * 0.6,
                                                rng.normal(size=(2, d)) * 0.5]))
ROTATION = Dynamics("rotation with forcing sin(3t) w, θ one array", rotation,
                    lambda rng, d: np.vstack([rng.normal(size=(d, d)) / np.sqrt(d) * 0.6, rng.normal(size=(1, d))]))
MLP = Dynamics("MLP tanh(z W1 + b1 + t c) W2, θ a dict", mlp,
               lambda rng, d: {"W1": rng.normal(size=(d, 5)) / np.sqrt(d), "b1": rng.normal(size=5) * 0.5,
                               "c": rng.normal(size=5) * 0.5, "W2": rng.normal(size=(5, d)) / np.sqrt(5)})
ROTATION_LIST = Dynamics("rotation with forcing sin(3t) w, θ the list [S, w]", rotation_list,
                         lambda rng, d: [rng.normal(size=(d, d)) / np.sqrt(d) * 0.6, rng.normal(size=d)])
# Exercises 4–9 take θ as one array; 2, 3 and 10 also a dict and a list.
ARRAY_DYNAMICS = (TANH, ROTATION, POLYNOMIAL)  # in this order: SETTINGS[2] has D = 1, where the rotation is linear
ALL_DYNAMICS = ARRAY_DYNAMICS + (MLP, ROTATION_LIST)


def state_shape(setting):
    """(D,) for one state, (B, D) for a batch."""
    return (setting.dim,) if setting.batch == 0 else (setting.batch, setting.dim)


def random_problem(rng, setting, dyn=TANH):
    """z0, θ (drawn by `dyn`) and a vector c = ∂L/∂z(t1) for `setting` (θ scaled so that ‖∂f/∂z‖ ≈ 1)."""
    z0 = rng.normal(size=state_shape(setting))
    return z0, dyn.draw(rng, setting.dim), rng.normal(size=z0.shape)


def tree_map(fn, *trees):
    """fn applied leaf by leaf to θ-shaped containers (arrays, lists, tuples, dicts) of the same structure."""
    first = trees[0]
    if isinstance(first, dict):
        return {key: tree_map(fn, *(tree[key] for tree in trees)) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(tree_map(fn, *items) for items in zip(*trees))
    return fn(*trees)


def steps_for(t0, t1):
    """The even number of RK4 steps that cuts [t0, t1] into steps of at most H_STEP (even, so that
    Simpson's rule can use the grid)."""
    return 2 * int(np.ceil(round(abs(t1 - t0) / (2 * H_STEP), 9)))


def describe(setting, n_steps=None, dyn=None):
    """A one-line label for a case: dimension, batch, time span and direction, steps, dynamics."""
    batch = "one state" if setting.batch == 0 else f"batch of {setting.batch}"
    span = f"t {setting.t0:g} → {setting.t1:g}" + (" (backwards)" if setting.t1 < setting.t0 else "")
    steps = "" if n_steps is None else f", {n_steps} steps"
    return f"D={setting.dim}, {batch}, {span}{steps}" + ("" if dyn is None else f"; f = {dyn.name}")


def call(fn, *args):
    """fn(*copies of args), with the inputs' originals left untouched for the grader's references.

    NotImplementedError becomes NotDone; any other exception, SystemExit and KeyboardInterrupt
    included, a Wrong naming the line; an argument that fn changed in place, a Wrong (MUTATED).
    """
    copies = copy.deepcopy(args)
    del SHORTCUTS[:]
    LEARNER[0] += 1
    try:
        answer = fn(*copies)
    except NotImplementedError as err:
        raise NotDone(f"{err}{_where(err, fn)}" if str(err) else f"{fn.__name__} raises NotImplementedError") from None
    except BaseException as err:  # the learner's code may raise anything, even SystemExit: report it
        raise Wrong(shortcut_message() or f"{fn.__name__} {raised(err)}{_where(err, fn)}") from None
    finally:
        LEARNER[0] -= 1
    if SHORTCUTS:  # called a blocked function and caught the refusal
        raise Wrong(shortcut_message())
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
    if isinstance(original, dict):
        return (isinstance(passed, dict) and set(passed) == set(original)
                and all(_unchanged(original[key], passed[key]) for key in original))
    return passed is original or passed == original


def outputs(answer, names):
    """The learner's tuple of results, checked to hold one entry per name."""
    if not isinstance(answer, (tuple, list)) or len(answer) != len(names):
        raise Wrong(f"expected a tuple ({', '.join(names)}), got {_kind(answer)}")
    return answer


def _kind(value):
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} of shape {np.shape(value)}" if value is not None else "None (no return?)"


def numeric(name, answer, shape, floor=0.0):
    """`answer` as a finite float64 array of `shape` (a size-1 array passes for a scalar), else Wrong.

    An answer in float32 (or float16) is Wrong (FLOAT32), and so is a float64 answer whose every
    entry is a float32 number (`carries_float32`): it was computed in float32 and converted at the end.
    Entries below 1e-9 of the answer's size (or of `floor`) are round-off residues and not judged.
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
    if raw.dtype.kind == "f" and carries_float32(arr, floor=floor):
        raise Wrong(f"{name}: {FLOAT32}: every entry is a float32 number converted to float64, so it "
                    f"was computed in float32; {FLOAT64_ADVICE}")
    return arr.reshape(shape)


def numeric_tree(name, answer, like, floor=0.0):
    """`answer` with the structure of `like` (an array, or a θ container: dict, list, tuple), each array
    checked by `numeric`; else Wrong naming the part that differs."""
    if isinstance(like, dict):
        if not isinstance(answer, dict) or set(answer) != set(like):
            raise Wrong(f"{name} should be a dict with θ's keys {sorted(like)}, got {_kind(answer)}")
        return {key: numeric_tree(f"{name}[{key!r}]", answer[key], like[key], floor) for key in like}
    if isinstance(like, (list, tuple)):
        if not isinstance(answer, (list, tuple)) or len(answer) != len(like):
            raise Wrong(f"{name} should be a list of {len(like)} arrays shaped like θ's, got {_kind(answer)}")
        return type(like)(numeric_tree(f"{name}[{i}]", part, model, floor)
                          for i, (part, model) in enumerate(zip(answer, like)))
    return numeric(name, answer, np.shape(like), floor)


def carries_float32(x, slack=0.0, floor=0.0):
    """True if every entry of x that is not a round-off residue (below 1e-9 of max(‖x‖∞, floor)) lies
    within `slack` of a float32 number, and some entry needs more than float16's 11 bits: computed in
    float32 (a float64 computation lands on a float32 number with probability ~2⁻²⁹ per entry)."""
    x = np.ravel(np.asarray(x, dtype=np.float64))
    scale = max(floor, float(np.max(np.abs(x), initial=0.0)))
    kept = x[np.abs(x) > 1e-9 * scale] if scale > 0 else x[:0]
    if kept.size == 0:
        return False
    mantissa, exponent = np.frexp(kept)

    def off(bits):  # distance of each entry to the nearest number with `bits` significant bits
        return np.abs(np.ldexp(np.round(np.ldexp(mantissa, bits)), exponent - bits) - kept)

    return bool(np.all(off(24) <= slack) and np.any(off(11) > slack))


def expect_close(name, answer, expected, tol, mistakes=(), floor=0.0, near=None, float32=False):
    """Pass if answer is within relative `tol` of `expected`; else raise Wrong, naming a matching mistake.

    Differences are measured by `relative_difference(·, ·, floor)`; a mistake is recognised when the
    answer lies within `near` (default `tol`) of its value. A difference of float32's size where
    round-off is expected (tol < 1e-9) is blamed on float32 only if `float32` (the grader saw float32
    values in the answer's making); otherwise it is called an approximation. Returns the difference.
    """
    answer = numeric_tree(name, answer, expected, floor)
    gap = relative_difference(answer, expected, floor)
    COMPARISONS.append((name, gap, tol))
    if gap <= tol:
        return gap
    recognise(name, answer, mistakes, tol if near is None else near, floor)
    if tol < FLOAT32_GAPS[0] <= gap <= FLOAT32_GAPS[1]:
        if float32:
            raise Wrong(f"{name}: {FLOAT32}: it differs from the reference by {gap:.0e} (relative), the size of "
                        f"float32 round-off where float64 gives 1e-16, and float32 numbers went into it; "
                        f"{FLOAT64_ADVICE}")
        raise Wrong(f"{name}: {APPROXIMATION}: it differs from the reference by {gap:.0e} (relative; tolerance "
                    f"{tol:.0e}), far more than float64 round-off and far less than a wrong formula: an "
                    "approximation of the exact value asked for (a finite difference, another Runge–Kutta "
                    "rule, states recomputed instead of the given ones?)")
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
