"""What the graders watch while the learner's code runs: the package functions it may not call, and how
often (at which times, inside which make_vjp) it evaluates f.

Blocked functions. An exercise lists in BLOCKED the package functions that compute its answer (the
function the learner is asked to write, and the package's routes to it). In the grading process
`block` replaces each of them, under every name the package gives it, by a wrapper that calls the
original when the grader calls it and refuses (`Shortcut`, noted in SHORTCUTS) while the learner's
code runs (`LEARNER`, set by `_common.call` and by the runner's import of the learner's file).

Counted evaluations. `Tally(f)` is f for the learner: it records every call made while the learner's
code runs: the time t, whether autograd traced the call (make_vjp, grad, jacobian) and the roots of
its trace (one per make_vjp), and whether z came in float32. The exercises compare the record with
what their statement prescribes (`rk4_times`, `audit_stages`).
"""
import importlib
import sys
from collections import namedtuple

import numpy as np
from autograd.tracer import Box, getval

# > 0 while the learner's code runs (a counter, so that nested calls nest).
LEARNER = [0]
# Names of blocked functions the learner's code called (even if it caught the exception).
SHORTCUTS = []
SHORTCUT = "a shortcut through the package"
# How a blocked call is reported: the exercise's own line on what may be imported (set by `block`).
ALLOWED = [""]

COUNT = "counted evaluations of f"
STAGE_TIMES = "f at the wrong times"
WHOLE_STEP = "differentiated more than one evaluation of f at once"


class Shortcut(BaseException):
    """The learner's code called a blocked package function (a BaseException, so that an
    `except Exception` in the learner's code does not swallow it)."""


def _refusing(name, original, when):
    def blocked(*args, **kwargs):
        if LEARNER[0] and (when is None or when(*args, **kwargs)):
            SHORTCUTS.append(name)
            raise Shortcut(f"{name} may not be called in this exercise")
        return original(*args, **kwargs)

    blocked.__name__, blocked.__qualname__ = original.__name__, original.__qualname__
    blocked.__doc__, blocked.__module__ = original.__doc__, original.__module__
    return blocked


# The package's routes to a gradient: what exercises 4, 5, 7, 8 and 10 ask the learner to compute.
GRADIENT_ROUTES = ("adjoint_ref.api.gradients", "adjoint_ref.api.odeint", "adjoint_ref.adjoint.adjoint_gradients",
                   "adjoint_ref.adjoint.solve", "adjoint_ref.methods.backprop",
                   "adjoint_ref.methods.recorded", "adjoint_ref.discrete_adjoint.discrete_adjoint_gradients",
                   "adjoint_ref.discrete_adjoint.solve", "adjoint_ref.sensitivity.forward_sensitivities",
                   "adjoint_ref.sensitivity.solve", "adjoint_ref.finite_differences.solve",
                   "adjoint_ref.running_cost.solve", "adjoint_ref.diagnostics.check.check")


def resolve(dotted):
    """The object named "package.module.attr", or None if there is none (the package changed)."""
    module_name, attr = dotted.rsplit(".", 1)
    try:
        return getattr(importlib.import_module(module_name), attr, None)
    except ImportError:
        return None


def block(names, allowed=""):
    """Replace each package function in `names` ("module.function", or ("module.function", when) to
    refuse only the calls for which when(*args, **kwargs) is true) by a refusing wrapper, under every
    name an adjoint_ref module gives it (module attributes, and the values of module-level dicts such
    as `methods.METHODS`). `allowed` says what the learner may use instead. A name the package no
    longer has is skipped (tests/test_exercises.py checks that every one resolves)."""
    ALLOWED[0] = allowed
    for entry in names:
        dotted, when = (entry, None) if isinstance(entry, str) else entry
        original = resolve(dotted)
        if original is None:
            continue
        wrapper = _refusing(dotted, original, when)
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] == "adjoint_ref" and module is not None:
                for key, value in list(vars(module).items()):
                    if value is original:
                        setattr(module, key, wrapper)
                    elif type(value) is dict:
                        value.update({k: wrapper for k, v in value.items() if v is original})


def shortcut_message():
    """The FAIL text for a learner whose code called blocked functions (SHORTCUTS); "" if none."""
    if not SHORTCUTS:
        return ""
    names = ", ".join(dict.fromkeys(SHORTCUTS))
    return (f"{SHORTCUT}: your code called {names}, the package's own answer to this exercise; during "
            f"grading it refuses to run for your code: write it yourself. {ALLOWED[0]}").rstrip()


Call = namedtuple("Call", ["t", "roots", "float32"])
Call.__doc__ = """One evaluation of f by the learner's code: its time, the roots of the autograd traces it
belongs to (empty: not traced), and whether its z was float32."""


def _roots(value, seen):
    """The root nodes of every autograd trace that `value` (a box, or a container of boxes) belongs to."""
    if isinstance(value, (list, tuple)):
        return [root for item in value for root in _roots(item, seen)]
    if isinstance(value, dict) and not isinstance(value, Box):
        return [root for item in value.values() for root in _roots(item, seen)]
    if not isinstance(value, Box):
        return []
    roots, stack = [], [value._node]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        parents = getattr(node, "parents", None)
        if parents:
            stack.extend(parents)
        else:
            roots.append(node)
    return roots


class Tally:
    """f, counting: calls made while the learner's code runs are appended to `calls` (see `Call`)."""

    def __init__(self, f, name=None):
        self.f, self.calls = f, []
        self.__name__ = name or getattr(f, "__name__", "f")

    def __call__(self, *args, **kwargs):
        if LEARNER[0]:
            z = args[0] if args else kwargs.get("z")
            t = args[2] if len(args) > 2 else kwargs.get("t")
            roots = _roots(list(args) + list(kwargs.values()), set())
            value = np.asarray(getval(z)) if z is not None else np.zeros(0)
            self.calls.append(Call(float(np.real(getval(t))) if t is not None else np.nan,
                                   tuple(roots), value.dtype in (np.float32, np.float16)))
        return self.f(*args, **kwargs)

    def __deepcopy__(self, memo):  # `call` copies the inputs; the tally stays one
        return self

    def take(self):
        """The calls recorded so far, and a fresh record."""
        calls, self.calls = self.calls, []
        return calls


def float32_seen(*tallies):
    """True if any recorded evaluation received a float32 state."""
    return any(call.float32 for tally in tallies for call in tally.calls)


RK4_C = (0.0, 0.5, 0.5, 1.0)


def rk4_times(t_start, t_end, n_steps):
    """The times of the 4·n_steps stage evaluations of n_steps RK4 steps from t_start to t_end, sorted."""
    h = (t_end - t_start) / n_steps
    return np.sort([t_start + k * h + c * h for k in range(n_steps) for c in RK4_C])


def _as_steps(count, intervals=1):
    if count % (4 * intervals) or not count:
        return ""
    return f" (as if {count // (4 * intervals)} steps were taken" + (" per interval)" if intervals > 1 else ")")


STEPS_ADVICE = ("take exactly n_steps steps of h = (t_end − t_start)/n_steps (np.linspace(t_start, t_end, "
                "n_steps) makes n_steps − 1 steps)")


def compare_times(seen, expected, what, prescribed, advice=STEPS_ADVICE, intervals=1):
    """'' if the sorted times `seen` equal `expected` (to 1e-9), else why not: the counts, then the first
    time where they part. `what` names the evaluations, `prescribed` the statement's rule."""
    seen = np.sort(np.asarray(seen, dtype=float))
    if seen.size != expected.size:
        as_steps = _as_steps(seen.size, intervals) if advice is STEPS_ADVICE else ""
        return (f"{COUNT}: expected {expected.size} {what} ({prescribed}), seen {seen.size}{as_steps}; "
                f"{advice}")
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    apart = np.flatnonzero(np.abs(seen - expected) > 1e-9 * scale)
    if apart.size == 0:
        return ""
    times, counts = np.unique(np.round(seen, 9), return_counts=True)
    wanted, wanted_counts = np.unique(np.round(expected, 9), return_counts=True)
    seen_at = dict(zip(times, counts))
    wanted_at = dict(zip(wanted, wanted_counts))
    t = next(t for t in sorted(set(seen_at) | set(wanted_at)) if seen_at.get(t, 0) != wanted_at.get(t, 0))
    return (f"{STAGE_TIMES}: {seen_at.get(t, 0)} {what} at t = {t:.6g}, where {prescribed} put "
            f"{wanted_at.get(t, 0)} there; RK4's four stages of a step from t to t + h are at t, t + h/2, "
            "t + h/2 and t + h")


def traced(calls):
    """The calls made inside an autograd trace."""
    return [call for call in calls if call.roots]


def largest_trace(calls):
    """The largest number of f evaluations that share one autograd trace (one make_vjp)."""
    per_root = {}
    for call in traced(calls):
        for root in call.roots:
            per_root[id(root)] = per_root.get(id(root), 0) + 1
    return max(per_root.values(), default=0)


def audit_stages(calls, spans, n_steps, name="f", plain=0, per_trace=1):
    """Why the evaluations `calls` of `name` are not those prescribed, or '': one make_vjp of `name` per RK4
    stage of n_steps steps over each (t_start, t_end) in `spans`, at most `per_trace` evaluations in one
    trace, and at most `plain` evaluations outside make_vjp."""
    biggest = largest_trace(calls)
    if biggest > per_trace:
        what = "RK4 step" if per_trace == 4 else "stage"
        return (f"{WHOLE_STEP}: {biggest} evaluations of {name} sit in one make_vjp (one autograd trace); the "
                f"statement asks for one make_vjp per {what}, not one through a whole step or solve")
    expected = np.sort(np.concatenate([rk4_times(a, b, n_steps) for a, b in spans]))
    steps = f"{n_steps} RK4 steps" + (f" on each of {len(spans)} intervals" if len(spans) > 1 else "")
    why = compare_times([c.t for c in traced(calls)], expected, f"make_vjp of {name}",
                        f"{steps}, one make_vjp of {name} per stage, which gives {name}'s value too",
                        intervals=len(spans))
    if why:
        return why
    extra = len(calls) - len(traced(calls))
    if extra > plain:
        return (f"{COUNT}: {name} evaluated {extra} times outside make_vjp besides the {expected.size} inside, "
                f"where {steps} need at most {plain}: the make_vjp of each stage returns {name}'s value too; "
                "did you solve for z (or differentiate) separately?")
    return ""
