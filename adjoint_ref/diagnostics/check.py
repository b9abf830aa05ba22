"""`check`: every gradient method on one problem, side by side, and where and why they differ.

What `adjoint-ref check` prints. Three methods differentiate the computed RK4 solution itself, so
they agree to round-off at any n_steps: backprop (autograd through the steps), the discrete adjoint
(the steps transposed by hand) and finite differences (which use f's values only, never its
derivatives). The continuous adjoint, plain and checkpointed, solves the adjoint equations (11)–(12)
with RK4 steps of its own, and forward sensitivities get dL/dts from the continuous formula: they
differ from the exact gradient by RK4's O(h⁴). `check` compares every method with a reference
(backprop), and when a difference is above tol it names the parts that differ (z0, θ's leaves by
path, each t_i) and gives a verdict: a derivative bug in f, the adjoint's backward z drifting, or
RK4's discretisation, told apart by a second run at 2·n_steps.
"""
import math
import textwrap
import time
import warnings
from collections import namedtuple

import numpy as np

from .._impl import validate
from .._impl.checkpoints import auto_checkpoints
from .._impl.drift import DOPRI5_REMEDY, EFFECT_MARGIN, AdjointDriftWarning
from ..api import DEFAULT_N_STEPS, collected, forward_and_loss, warn_if_dense
from .._impl.memory import MemoryLimitError
from ..methods import DOPRI5_METHODS, METHODS, adaptive_forward
from .._impl.metrics import relative_difference
from ..rk4 import integrate, interval_steps
from .._impl.tree import leaf_paths, leaves, size

OF_THE_RK4_SOLUTION = ("backprop", "discrete_adjoint", "finite_differences")  # the gradient of the RK4 solution itself
CONTINUOUS = ("adjoint", "checkpointed", "forward_sensitivity")  # O(h⁴) from it
CHECK_METHODS = ("backprop", "discrete_adjoint", "adjoint", "checkpointed", "forward_sensitivity",
                 "finite_differences")  # the order of the table: the slowest last
BY_INPUT = ("finite_differences", "forward_sensitivity")  # cost grows with the number of inputs
QUANTITIES = {"z0": "dL/dz0", "theta": "dL/dθ", "ts": "dL/dts"}
BUDGET = 10.0  # seconds: a BY_INPUT method estimated to take longer is skipped unless `methods` names it
WIDTH = 110  # verdicts are wrapped to this many columns
RESOLUTION = 1e-8  # finite differences' own relative error is 1e-11–1e-9 on smooth problems; tol must be above
Z_DERIVATIVE = ("with respect to z: dL/dz0 differs too, and dL/dz0 = λ(t0) depends on ∂f/∂z alone, so the z "
                "cotangent is wrong (λ carries it into every θ leaf and dL/dts, which is why they differ as well)")
THETA_DERIVATIVE = "with respect to the θ leaves marked above (dL/dz0 agrees, so ∂f/∂z is right)"
DRIFT_RATIO = 10.0  # the plain adjoint this many times further from the reference than the checkpointed: drift
TIGHTER = 100.0  # dopri5's verdict re-runs with rtol and atol this many times smaller

Run = namedtuple("Run", ["gradients", "seconds", "drift", "warnings", "error", "checkpoints", "f_evals"],
                 defaults=(None,))
Run.__doc__ = """One method on the problem: its Gradients, the best time of the runs, the plain adjoint's drift
[(t, relative drift, threshold)], the AdjointDriftWarnings it issued, the error message if it failed, the
checkpoints it ran with (adjoint and checkpointed), and the evaluations of f of one gradient (both passes,
`gradients`' stats)."""
Part = namedtuple("Part", ["path", "difference", "share"])
Part.__doc__ = """One part of a gradient (z0, a leaf of θ such as theta['W1'], or ts[i]): its own relative
difference between two methods, and its share of the whole quantity's squared difference ‖a − b‖²."""
Verdict = namedtuple("Verdict", ["kind", "text"])
Verdict.__doc__ = """Why methods differ. kind: "agree", "derivative" (f's derivative is wrong), "exact" (two exact
methods differ: a bug here), "resolution" (tol below what the methods resolve), "drift", "steps" (RK4's O(h⁴):
use more steps), "low order" or "no convergence" (f may not be smooth), "failed" (a method broke down)."""


class Report(namedtuple("Report", ["ok", "tol", "n_steps", "sizes", "methods", "reference", "skipped",
                                   "differences", "times", "runs", "parts", "refined", "verdicts", "wrt",
                                   "tolerances", "grid"], defaults=(tuple(QUANTITIES), None, None))):
    """What `check` found. ok: every difference within tol. differences: {(method, quantity): relative
    difference from the reference method} with quantity "z0", "theta" or "ts"; times: {method: seconds
    per gradient}; skipped: {method: why}; parts: {(method, quantity): [Part, ...] largest share first}
    for the differences above tol; refined: {method: largest difference at 2·n_steps} when a re-run
    was needed; verdicts: [Verdict, ...]; runs: {method: Run}; sizes: (z0's shape, the number of
    parameters, the number of times). wrt: the quantities compared; tolerances: {quantity: the relative
    difference it may show}, tol or, if looser, tol × G / ‖reference's quantity‖ with G the largest norm
    of the compared gradients (an absolute floor, so that a tiny gradient is not held to tol alone);
    grid: n_steps (RK4) or dopri5's `Tolerances`. str(report) is the table `adjoint-ref check` prints."""

    def __str__(self):
        sections = (_settings, _table, _drift_lines, _part_lines, _refined_lines, _verdict_lines)
        return "\n".join(line for section in sections for line in section(self))


def check(loss, f, z0, theta, ts, n_steps=None, tol=1e-6, methods=None, checkpoints=None, repeat=1,
          progress=None, step_size=None, wrt=None, solver="rk4", rtol=None, atol=None):
    """Run every gradient method on L = loss(odeint(f, z0, θ, ts)) and compare them; returns a `Report`.

    n_steps (default 20) counts RK4 steps per observation interval (one count, or one per interval), or
    step_size=h gives each ⌈|Δt|/h⌉, as in `gradients`. methods: names
    from CHECK_METHODS ("checkpointed" is the adjoint with checkpoints); None runs them all, except
    that finite differences and forward sensitivities, whose cost grows with the number of inputs
    (entries of z0, θ and ts), are skipped when estimated above BUDGET seconds, and a method whose
    memory guard refuses (`memory.MemoryLimitError`) is skipped too (the report says so).
    checkpoints: how "adjoint" runs, as in `gradients` (None, K or "auto"); "checkpointed" uses K, or
    ⌈√n_steps⌉. Each method is timed
    `repeat` times (the best counts). progress(done, total, label), if given, is called before each run.
    A difference above tol gets the parts that differ and a verdict, after a re-run at 2·n_steps.
    wrt: the quantities compared, from ("z0", "theta", "ts") (default all); each may differ by tol
    relative, or by tol × the largest compared gradient's norm absolute if that is looser (`tolerances`).
    solver="dopri5" compares the methods dopri5 has (backprop, adjoint, finite differences) at tolerances
    rtol, atol (as in `gradients`), and its verdict re-runs at tolerances TIGHTER times smaller.
    """
    z0, theta, ts = validate.inputs(f, z0, theta, ts)
    validate.choice(solver, ("rk4", "dopri5"), "solver")
    warn_if_dense(n_steps, solver, ts, step_size)
    grid = _grid(solver, n_steps, step_size, ts, checkpoints, rtol, atol)
    tol = validate.positive_number(tol, "tol")
    repeat = validate.positive_int(repeat, "repeat")
    wrt = _quantities(wrt)
    validate.as_checkpoints(checkpoints)
    problem = (loss, f, z0, theta, ts)
    chosen, skipped = _choose(methods, problem, grid)
    runs = {}
    for done, method in enumerate(chosen):
        if progress:
            progress(done, len(chosen), f"{method} at {_grid_label(grid)}")
        try:
            runs[method] = timed_run(problem, method, grid, checkpoints, repeat)
        except MemoryLimitError as err:  # raised before any work: skipped, unless asked for by name
            if methods is not None:
                raise
            skipped[method] = str(err)
    chosen = [m for m in chosen if m in runs]
    reference = next((m for m in OF_THE_RK4_SOLUTION if m in runs and runs[m].error is None), chosen[0])
    differences = {(m, q): _difference(runs[m], runs[reference], q)
                   for m in chosen if m != reference for q in wrt}
    tolerances = quantity_tolerances(runs[reference], wrt, tol)
    above = exceeding(differences, tolerances)
    largest = {m: max(differences[m, q] for q in wrt) for m, _ in above if runs[m].error is None}
    drifted = _drifted(runs, largest, differences, wrt)
    bug = any(_exact_verdict(m, largest[m], reference).kind == "derivative"
              for m in OF_THE_RK4_SOLUTION if m in largest)
    refined = {} if bug else _refine(problem, largest, reference, grid, checkpoints, drifted, progress, wrt)
    context = {"z0_differs": any(m in OF_THE_RK4_SOLUTION and q == "z0" for m, q in above),
               "checkpointed": _checkpointed_reach(runs, differences, wrt)}
    return Report(not above, tol, grid if solver == "rk4" else None, (np.shape(z0), size(theta), len(ts)), chosen,
                  reference, skipped, differences, {m: run.seconds for m, run in runs.items()}, runs,
                  _parts(runs, reference, above, theta), refined,
                  _verdicts(runs, tol, largest, refined, drifted, grid, reference, context), wrt, tolerances, grid)


def _grid(solver, n_steps, step_size, ts, checkpoints, rtol, atol):
    """The RK4 steps per interval (n_steps, one count or one per interval, or from step_size; default
    DEFAULT_N_STEPS), or dopri5's validated `Tolerances`; the other solver's options refused with an error
    naming them."""
    if solver == "rk4":
        for name, value in (("rtol", rtol), ("atol", atol)):
            if value is not None:
                raise ValueError(f"{name} applies to solver='dopri5' only; solver='rk4' takes n_steps or step_size")
        return validate.as_grid(n_steps, step_size, ts, DEFAULT_N_STEPS)
    for name, value in (("n_steps", n_steps), ("step_size", step_size), ("checkpoints", checkpoints)):
        if value is not None:
            raise ValueError(f"{name} applies to solver='rk4' only, not to solver='dopri5' (which chooses its own "
                             "steps from rtol and atol)")
    return validate.tolerances("adjoint", rtol, atol)


def _grid_label(grid):
    """How the report names a grid: "20 steps per interval" or "rtol=1e-07, atol=1e-09"."""
    if isinstance(grid, validate.Tolerances):
        return f"rtol={grid.rtol:.0e}, atol={grid.atol:.0e}"
    return f"{_steps_text(grid)} steps per interval"


def _refined_grid(grid):
    """The grid of the verdict's re-run: 2·n_steps, or dopri5's tolerances TIGHTER times smaller."""
    if isinstance(grid, validate.Tolerances):
        return validate.tolerances("adjoint", grid.rtol / TIGHTER, grid.atol / TIGHTER)
    return scaled(grid, 2)


def _quantities(wrt):
    """The quantities to compare, in QUANTITIES' order: all by default, else those `wrt` names."""
    if wrt is None:
        return tuple(QUANTITIES)
    if isinstance(wrt, str):
        wrt = (wrt,)
    names = [validate.choice(q, tuple(QUANTITIES), "wrt (each)") for q in wrt]
    if not names:
        raise ValueError(f"wrt must name at least one of {', '.join(QUANTITIES)}")
    return tuple(q for q in QUANTITIES if q in names)


def quantity_tolerances(reference, wrt, tol):
    """{quantity: the relative difference it may show}: tol, or tol · G / ‖its reference gradient‖ if that is
    larger, G the largest norm among the compared reference gradients. So a quantity passes when
    ‖a − b‖ ≤ tol · max(‖b‖, G) (about): relative, with an absolute floor scaled by the other gradients."""
    if reference.error:
        return dict.fromkeys(wrt, tol)
    norms = {q: float(np.linalg.norm(np.concatenate([np.ravel(x) for x in leaves(getattr(reference.gradients, q))])
                                     if q == "theta" else np.ravel(getattr(reference.gradients, q))))
             for q in wrt}
    largest = max(norms.values())
    return {q: tol * max(1.0, largest / norms[q]) if norms[q] > 0 else (tol if largest == 0 else np.inf)
            for q in wrt}


def _drifted(runs, largest, differences, wrt):
    """The plain adjoint's z drifted: it warned without a checkpointed re-run, or, at the same steps, it is
    above tol and DRIFT_RATIO times further from the reference than the checkpointed adjoint."""
    if "adjoint" not in runs:
        return False
    if any(w.rerun is None for w in runs["adjoint"].warnings):
        return True
    reach = _checkpointed_reach(runs, differences, wrt)
    return ("adjoint" in largest and runs["adjoint"].checkpoints is None and reach is not None
            and largest["adjoint"] > DRIFT_RATIO * reach[1])


def _checkpointed_reach(runs, differences, wrt):
    """(K, the checkpointed adjoint's largest difference from the reference) at the same steps, or None."""
    if "checkpointed" not in runs or runs["checkpointed"].error or ("checkpointed", wrt[0]) not in differences:
        return None
    return runs["checkpointed"].checkpoints, max(differences["checkpointed", q] for q in wrt)


def exceeding(differences, tol):
    """The (method, quantity) pairs of `differences` above their tolerance (a NaN counts as above): the
    report is ok only if there are none. tol: one tolerance, or {quantity: tolerance}."""
    return [(m, q) for (m, q), difference in differences.items()
            if not difference <= (tol[q] if isinstance(tol, dict) else tol)]


def _parts(runs, reference, above, theta):
    """{(method, quantity): [Part, ...]} for the differences above tol (of methods that ran through)."""
    return {(m, q): part_differences(getattr(runs[m].gradients, q), getattr(runs[reference].gradients, q), q, theta)
            for m, q in above if runs[m].error is None}


def _verdicts(runs, tol, largest, refined, drifted, n_steps, reference, context=None):
    """A "failed" Verdict for each method that broke down, then `verdict` on the others' differences."""
    failed = {}  # why → the methods that broke down for that reason
    for m, run in runs.items():
        if run.error:
            failed.setdefault(_why_failed(m, run.error), []).append(m)
    found = [Verdict("failed", f"{', '.join(ms)} broke down ({runs[ms[0]].error}); {why}") for why, ms in failed.items()]
    if largest or not found:
        found += verdict(tol, largest, refined, drifted, n_steps, reference, **(context or {}))
    return found


def _why_failed(method, error):
    """What a method's breakdown (its FloatingPointError message) points at: the loss, the forward
    solve (f itself), or, for the plain adjoint's backward pass, z integrated backwards."""
    if "loss returned" in error or "loss gradient" in error:
        return ("the loss (or its gradient ∂L/∂z) is not finite on the forward solution: the loss is at fault, "
                "not the gradient method")
    if "forward pass" in error:
        return ("the forward solve itself is not finite: f overflows on this span, so no method can "
                "differentiate it (a shorter span, a smaller z0 or θ, or more steps)")
    if method == "adjoint":
        return ("the plain adjoint's z, integrated backwards, overflows on strongly contracting flows: "
                "checkpoints=K or 'auto' recompute it forwards")
    return f"{method}'s backward pass overflowed: dL/dz grows without bound backwards on this span"


def _choose(methods, problem, n_steps):
    """(methods to run in table order, {method: why skipped}): all of CHECK_METHODS (those dopri5 has, when
    n_steps is its `Tolerances`) unless `methods` names some."""
    dopri5 = isinstance(n_steps, validate.Tolerances)
    available = tuple(m for m in CHECK_METHODS if m in DOPRI5_METHODS) if dopri5 else CHECK_METHODS
    if methods is not None:
        methods = [validate.choice(m, available, "methods (each)" + (" with solver='dopri5'" if dopri5 else ""))
                   for m in methods]
        if len(set(methods)) < 2:
            raise ValueError(f"methods must name at least two different methods to compare, got {methods}")
        return sorted(set(methods), key=CHECK_METHODS.index), {}
    skipped = {}
    _, f, z0, theta, ts = problem
    inputs = np.size(z0) + size(theta) + len(ts)
    start = time.perf_counter()
    try:
        (adaptive_forward if dopri5 else integrate)(f, z0, theta, ts, n_steps)
    except FloatingPointError:  # the forward solve breaks down: every method will say so in the report
        return list(available), skipped
    estimate = 2 * inputs * (time.perf_counter() - start)
    if estimate > BUDGET:
        skipped.update(dict.fromkeys(BY_INPUT, f"≈{estimate:.0f} s (about two forward solves for each of the "
                                               f"{inputs} inputs) is above the {BUDGET:g} s budget; name it in "
                                               "methods to run it"))
    return [m for m in available if m not in skipped], skipped


def checkpoints_of(method, n_steps, checkpoints):
    """The `checkpoints` option a check method runs with: the argument for "adjoint"; for "checkpointed"
    the argument if it is a number K, else ⌈√n_steps⌉."""
    if method == "checkpointed":
        return checkpoints if isinstance(checkpoints, int) else auto_checkpoints(max(interval_steps(n_steps, 1)))
    return checkpoints


def scaled(n_steps, factor):
    """⌈factor · n⌉ steps on every interval, for n_steps one count or one per interval."""
    if isinstance(n_steps, tuple):
        return tuple(math.ceil(factor * n) for n in n_steps)
    return math.ceil(factor * n_steps)


def _steps_text(n_steps):
    return ", ".join(map(str, n_steps)) if isinstance(n_steps, tuple) else str(n_steps)


def timed_run(problem, method, n_steps, checkpoints=None, repeat=1):
    """One `Run` of `method` (a CHECK_METHODS name) on problem = (loss, f, z0, θ, ts) with n_steps RK4 steps
    per interval, or with dopri5 when n_steps is its `Tolerances`: the gradients, drift
    and drift warnings of the first of `repeat` runs and the best wall-clock time; if the method breaks
    down numerically (a FloatingPointError), its message instead."""
    name = "adjoint" if method == "checkpointed" else method
    rk4 = not isinstance(n_steps, validate.Tolerances)
    options = {"checkpoints": checkpoints_of(method, n_steps, checkpoints)} if name == "adjoint" and rk4 else {}

    counts = {}

    def once():  # (Gradients, the plain adjoint's drift checks or None, seconds); with RK4 f's evaluations in counts
        with validate.plain_numpy_explained(problem[1]):
            return timed_once()

    def timed_once():
        start = time.perf_counter()
        table = METHODS if rk4 else DOPRI5_METHODS
        pullback, value, dL_dzs = forward_and_loss(table, name, *problem, n_steps, **options,
                                                   **({"counts": counts} if rk4 else {}),
                                                   **({"trace": True} if method == "adjoint" else {}))
        result = pullback(dL_dzs)
        traced = method == "adjoint"  # a `Backward` record: its gradients and drift checks
        g = collected(name, value, result.gradients if traced else result, problem[3])
        return g, list(result.drift) if traced else None, time.perf_counter() - start

    drift = [] if method == "adjoint" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AdjointDriftWarning)
        try:
            result, drift, seconds = once()
            f_evals = counts["forward"]["f_evals"] + counts["backward"]["f_evals"] if counts else None
            heard = [w.message for w in caught if issubclass(w.category, AdjointDriftWarning)]
            seconds = min([seconds] + [once()[2] for _ in range(repeat - 1)])
        except FloatingPointError as err:
            return Run(None, None, drift, [], f"{type(err).__name__}: {err}", options.get("checkpoints"))
    for w in caught:  # pass every other warning on
        if not issubclass(w.category, AdjointDriftWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return Run(result, seconds, drift, heard, None, options.get("checkpoints"), f_evals)


def _difference(run, reference, quantity):
    """The relative difference of one quantity between two runs (inf if either method failed)."""
    if run.error or reference.error:
        return np.inf
    return relative_difference(getattr(run.gradients, quantity), getattr(reference.gradients, quantity))


def part_differences(a, b, quantity, theta):
    """[Part(path, own relative difference, share of ‖a − b‖²), ...] of one quantity ("z0", "theta" or
    "ts") of two gradients, largest share first: z0 whole, θ leaf by leaf (paths from `tree.leaf_paths`),
    ts entry by entry."""
    if quantity == "z0":
        paths, a_parts, b_parts = ["z0"], [a], [b]
    elif quantity == "theta":
        paths, a_parts, b_parts = leaf_paths(theta), leaves(a), leaves(b)
    else:
        paths, a_parts, b_parts = [f"ts[{i}]" for i in range(len(a))], list(a), list(b)
    squares = [float(np.sum((np.ravel(x) - np.ravel(y)) ** 2)) for x, y in zip(a_parts, b_parts)]
    total = sum(squares)
    found = [Part(path, relative_difference(x, y), square / total if total > 0 else 0.0)
             for path, x, y, square in zip(paths, a_parts, b_parts, squares)]
    return sorted(found, key=lambda part: -part.share)


def _refine(problem, largest, reference, n_steps, checkpoints, drifted, progress, wrt=tuple(QUANTITIES)):
    """{method: largest difference from the reference at 2·n_steps (dopri5: tolerances TIGHTER times
    smaller)} for the continuous methods above tol (not the plain adjoint if its z drifted: more steps
    do not cure that)."""
    again = [m for m in largest if m in CONTINUOUS and not (m == "adjoint" and drifted)]
    if not again:
        return {}
    runs, finer = {}, _refined_grid(n_steps)
    for done, method in enumerate([reference] + again):
        if progress:
            progress(done, len(again) + 1, f"{method} at {_grid_label(finer)} (the verdict)")
        runs[method] = timed_run(problem, method, finer, checkpoints)
    return {m: max(_difference(runs[m], runs[reference], q) for q in wrt) for m in again}


def verdict(tol, largest, refined, drifted, n_steps, reference="backprop", z0_differs=False, checkpointed=None):
    """[Verdict, ...]: why the methods in `largest` ({method: its largest difference from the reference})
    differ by more than tol. refined: {method: that difference at 2·n_steps}; drifted: the plain adjoint's
    backward z left the forward z (an AdjointDriftWarning without a checkpointed re-run, or the plain
    adjoint DRIFT_RATIO times further from the reference than the checkpointed one at the same steps).
    n_steps may be dopri5's `Tolerances` (refined: at tolerances TIGHTER times smaller). z0_differs: an
    exact method's dL/dz0 differs too; checkpointed: (K, its largest difference) at the same steps.

    Exact methods (OF_THE_RK4_SOLUTION) must agree to round-off: finite differences against autodiff beyond RESOLUTION
    means the derivative of f that autograd uses is wrong, and that one verdict is all (every other method
    uses the same wrong derivative). A continuous method's gap shrinking by about
    2⁴ = 16 when the steps double is RK4's O(h⁴) (observed order p = log2 of the ratio, ≥ 3); a smaller
    ratio (order below 3) says f is not smooth enough for RK4's order; none (p < 0.5), no convergence.
    """
    if not largest:
        return [Verdict("agree", f"all methods agree with {reference} within {tol:.0e}")]
    found = [_exact_verdict(m, largest[m], reference, z0_differs) for m in OF_THE_RK4_SOLUTION if m in largest]
    if any(v.kind == "derivative" for v in found):
        return found
    if "adjoint" in largest and drifted:
        found.append(Verdict("drift", "the plain adjoint's backward z drifted off the stored forward z (see the "
                                      "drift above), so its gradient is wrong: " + _drift_remedy(
                                          largest["adjoint"], checkpointed, n_steps)))
    if refined:
        worst = max(refined, key=lambda m: largest[m])
        order = _tolerance_verdict if isinstance(n_steps, validate.Tolerances) else _order_verdict
        found.append(order(worst, largest[worst], refined[worst], tol, n_steps))
    return found


def _drift_remedy(gap, checkpointed, n_steps):
    """What to do about the drift, with what the checkpointed adjoint reaches at the same steps if it ran."""
    if isinstance(n_steps, validate.Tolerances):
        return DOPRI5_REMEDY
    if checkpointed is None:
        return "use checkpoints=K (or 'auto') or method='discrete_adjoint'"
    k, reach = checkpointed
    return (f"{gap:.1e} from the reference, where the checkpointed adjoint (checkpoints={k}) at the same "
            f"{n_steps} steps per interval is {reach:.1e}: use checkpoints={k} (or 'auto'), not more steps, "
            "or method='discrete_adjoint'")


def _tolerance_verdict(method, gap, refined_gap, tol, grid):
    """dopri5: the gap follows the tolerances (it shrank when they were tightened TIGHTER times) or not."""
    ratio = gap / refined_gap if refined_gap > 0 else np.inf
    seen = (f"{method}'s gap {gap:.1e} at rtol={grid.rtol:.0e}, atol={grid.atol:.0e} became {refined_gap:.1e} with "
            f"both {TIGHTER:g}× smaller: {ratio:.1f}× smaller")
    if gap <= RESOLUTION and ratio < 2:
        return Verdict("resolution", f"{seen}; differences of {gap:.0e} are round-off and finite-difference error: "
                                     "a tolerance below that cannot be met")
    if ratio >= 2:  # observed 13–200 on mlp, pendulum, lotka-volterra at rtol 1e-4 to 1e-6 (atol = rtol / 100), once 1.04
        power = math.log(ratio) / math.log(TIGHTER)  # gap ∝ tolerance^power
        factor = (gap / (tol / 2)) ** (1 / power)
        return Verdict("tolerances", f"{seen}: dopri5's error follows its tolerances, so tighten them: about "
                                     f"rtol={grid.rtol / factor:.0e}, atol={grid.atol / factor:.0e} for {tol:.0e}")
    return Verdict("no convergence", f"{seen}: tighter tolerances do not help. f may not be smooth, or the "
                                     "flow amplifies errors backwards: " + DOPRI5_REMEDY)


def _exact_verdict(method, gap, reference, z0_differs=False):
    """Why an exact method differs from the (exact) reference by `gap`; z0_differs: dL/dz0 differs too."""
    if gap <= RESOLUTION:
        return Verdict("resolution", f"{method} and {reference} differ by {gap:.1e}, within what finite differences "
                                     f"resolve ({RESOLUTION:.0e}): a tolerance below that cannot be met")
    if "finite_differences" in (method, reference):
        return Verdict("derivative", f"{reference} and {method} both differentiate the same RK4 solution, yet "
                                     f"differ by {gap:.1e}: the derivative of f that autograd uses is wrong (a "
                                     "hand-written VJP, autograd.extend.defvjp, or a custom primitive), " +
                                     (Z_DERIVATIVE if z0_differs else THETA_DERIVATIVE) + "; finite differences use "
                                     "only f's values, every other method the same derivative")
    return Verdict("exact", f"{method} and {reference} both compute the exact gradient of the RK4 solution, yet "
                            f"differ by {gap:.1e}: a bug in adjoint_ref, or f is not a pure function of (z, θ, t)")


def _order_verdict(method, gap, refined_gap, tol, n_steps):
    """Discretisation, low order or no convergence, from a continuous method's gap at n and 2n steps."""
    ratio = gap / refined_gap if refined_gap > 0 else np.inf
    order = math.log2(ratio) if ratio > 0 else -np.inf
    seen = (f"{method}'s gap {gap:.1e} at {_steps_text(n_steps)} steps per interval became {refined_gap:.1e} at "
            f"{_steps_text(scaled(n_steps, 2))}: {ratio:.1f}× smaller, observed order {order:.1f} (RK4's is 4)")
    if gap <= RESOLUTION and ratio < 8:
        return Verdict("resolution", f"{seen}; differences of {gap:.0e} are round-off and finite-difference error: "
                                     "a tolerance below that cannot be met")
    if order >= 3:
        needed = scaled(n_steps, (gap / (tol / 2)) ** (1 / 4))
        return Verdict("steps", f"{seen}: RK4's discretisation error, so use more steps: about n_steps={needed} "
                                f"for {tol:.0e}")
    if order >= 0.5:
        return Verdict("low order", f"{seen}: f may not be smooth along the solution (abs, max, relu, where or an "
                                    "if on z or t cost RK4 its order); more steps help only slowly")
    return Verdict("no convergence", f"{seen}: more steps do not help. f may not be smooth, or the flow amplifies "
                                     "errors on this span (chaotic or stiff): try checkpoints=K or a shorter span; "
                                     f"for a smooth f on a tame span, {method} itself is wrong")


def _settings(report):
    shape, n_theta, n_times = report.sizes
    ran = ", ".join(_label(report, m) for m in report.methods)
    grid = report.n_steps if report.grid is None else report.grid
    steps = (f"dopri5, adaptive steps at rtol={grid.rtol:.0e}, atol={grid.atol:.0e}" if report.n_steps is None else
             f"{_steps_text(report.n_steps)} RK4 steps per observation interval "
             f"({sum(interval_steps(report.n_steps, n_times - 1))} in all)")
    lines = [f"z0 shape {shape}, {n_theta} parameters, {n_times} observation times; {steps}", f"methods: {ran}"]
    return lines + [f"skipped: {m}: {why}" for m, why in report.skipped.items()]


def _label(report, method):
    """The method's name, with "(reference)" or the checkpoints it ran with."""
    checkpoints = report.runs[method].checkpoints
    if method == report.reference:
        return f"{method} (reference)"
    return method if checkpoints is None else f"{method} (checkpoints={checkpoints!r})"


def _table(report):
    wrt, tolerances = report.wrt, report.tolerances or dict.fromkeys(report.wrt, report.tol)
    head = f"{'method':<22}" + "".join(f"{QUANTITIES[q]:>12}" for q in wrt) + f"{'time/grad':>13}" + f"{'f evals':>9}"
    lines = ["", f"relative difference from {report.reference}, ‖a − b‖ / max(‖a‖, ‖b‖); tolerance {report.tol:.0e}, "
                 "or that times the largest compared gradient's norm, absolute, where looser; f evals: evaluations "
                 "of f per gradient (both passes)", head]
    for m in report.methods:
        run = report.runs[m]
        if m == report.reference:
            cells, mark = "".join(f"{'reference':>12}" for _ in wrt), ""
        else:
            cells = "".join(f"{report.differences[m, q]:>12.2e}" for q in wrt)
            mark = "  ok" if all(report.differences[m, q] <= tolerances[q] for q in wrt) else "  FAIL"
        seconds = f"{run.seconds * 1e3:>10.1f} ms" if run.error is None else f"{'failed':>13}"
        evals = f"{run.f_evals:>9}" if run.f_evals is not None else f"{'':>9}"
        lines.append(f"{m:<22}{cells}{seconds}{evals}{mark}")
    lines.append(f"{'tolerance':<22}" + "".join(f"{tolerances[q]:>12.1e}" for q in wrt))
    return lines + [f"{m} failed: {report.runs[m].error}" for m in report.methods if report.runs[m].error]


def _drift_lines(report):
    run = report.runs.get("adjoint")
    if run is None or not run.drift:
        return []
    worst = max(run.drift, key=lambda row: row.ratio)
    lines = ["", f"adjoint drift (backward z vs stored forward z, {len(run.drift)} interval(s)): largest "
                 f"{worst.drift:.1e} at t={worst.t:.6g}, threshold {worst.threshold:.1e}" +
             ("" if worst.effect is None else f"; its effect on λ and the gradient {worst.effect:.1e}, threshold "
                                              f"{worst.effect_threshold:.1e} (RK4's discretisation × {EFFECT_MARGIN:g})") +
             f"  {'ok' if worst.ok else 'DRIFT'}"]
    for w in run.warnings:
        lines.append(f"  at t={w.t:.6g} drift {w.drift:.1e} > {w.threshold:.1e}: " +
                     (f"checkpoints='auto' ran the backward pass again with checkpoints={w.rerun}" if w.rerun else
                      "the plain adjoint's gradient may be wrong (checkpoints=K or 'auto' recompute z forwards)"))
    return lines


def diagnosed(report):
    """The method whose parts the report prints: the first exact method above tol (its parts point at
    f's derivative), else the method furthest from the reference; None if all agree."""
    failing = [m for m in report.methods if any((m, q) in report.parts for q in report.wrt)]
    exact = [m for m in failing if m in OF_THE_RK4_SOLUTION]
    if exact or not failing:
        return (exact or [None])[0]
    return max(failing, key=lambda m: max(report.differences[m, q] for q in report.wrt))


def _part_lines(report):
    """One table of the diagnosed method's parts: every compared quantity's, dL/dz0 first (its own row even
    when it agrees: whether it differs tells a wrong ∂f/∂z from a wrong ∂f/∂θ)."""
    method = diagnosed(report)
    if method is None:
        return []
    z_first = method in OF_THE_RK4_SOLUTION and (method, "z0") in report.parts  # a wrong ∂f/∂z spoils every part
    lines = ["", f"part by part, {method} vs {report.reference} (relative difference, share of its quantity's "
                 "‖a − b‖²; <- 90 % of a quantity above tolerance" +
                 ("; dL/dz0 differs, so the rest follows from ∂f/∂z" if z_first else "") + "):"]
    for q in report.wrt:
        failing = (method, q) in report.parts and (q == "z0" or not z_first)
        parts = report.parts.get((method, q)) or part_differences(
            getattr(report.runs[method].gradients, q), getattr(report.runs[report.reference].gradients, q), q,
            report.runs[report.reference].gradients.theta)
        marked = _responsible(parts) if failing else []
        shown = max(len(marked), 5)
        lines += [f"  {QUANTITIES[q]:<8}{part.path:<24}{part.difference:>10.2e}{part.share:>9.1%}"
                  f"{'  <-' if part in marked else ''}" for part in parts[:shown]]
        lines += [f"  {'':<8}… and {len(parts) - shown} more parts"] if len(parts) > shown else []
    return lines


def _responsible(parts):
    """The fewest parts, largest share first, that together hold 90 % of the squared difference."""
    held, marked = 0.0, []
    for part in parts:
        if held >= 0.9:
            break
        marked.append(part)
        held += part.share
    return marked


def _refined_lines(report):
    if not report.refined:
        return []
    finer = _grid_label(_refined_grid(report.n_steps if report.grid is None else report.grid))
    return ["", f"again at {finer}, largest difference from {report.reference}: " +
            ", ".join(f"{m} {gap:.2e}" for m, gap in report.refined.items())]


def _verdict_lines(report):
    lines = [""] + [textwrap.fill(f"verdict ({v.kind}): {v.text}", WIDTH, subsequent_indent="  ")
                    for v in report.verdicts]
    return lines if report.ok else lines + [f"FAIL: differences above {report.tol:.0e}"]
