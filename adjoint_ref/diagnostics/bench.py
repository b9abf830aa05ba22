"""Time, memory, f evaluations and VJPs of one gradient, per method and step count.

The problem is the default tanh-MLP Neural ODE on one observation interval [0, 1] (so n_steps is the
total number of RK4 steps). For each method and n_steps it measures, in separate runs of one gradient:
the CPU time (time.process_time, best of a few runs: other programs on a shared machine disturb it
less than wall-clock time, but it still varies, so compare ratios from one run); the peak Python
memory (tracemalloc, which slows that run down, so it is not timed); the number of evaluations of f
and of VJPs of f (evaluations that autograd records to reverse: in the adjoints the recording of f that
`fast_vjp.vjp_of` replays at every later stage, in backprop the single make_vjp over the whole solve);
and the relative error of (dL/dz0, dL/dθ, dL/dts) against the discrete adjoint on a grid twice as fine
as the finest.
The row "reversible_heun" is the adjoint of solver="reversible_heun" at n_steps of its steps (order 2,
one f each), whose memory, like the adjoint's, does not grow with n_steps.
"""
import functools
import time
import tracemalloc
from collections import namedtuple

import numpy as np

from .._impl.counts import Counted as CountedDynamics  # f that counts its evaluations and VJPs
from .._impl.fast_vjp import traced, vjp_of
from .._impl.tree import ravel_tree
from .._impl.checkpoints import auto_checkpoints
from ..api import gradients
from ..methods import METHODS
from .._impl.metrics import relative_difference
from ..problems.models import default_problem, mlp_dynamics, mlp_formula
from ..rk4 import integrate

SIZES = (10, 100, 1000, 10000)
QUICK_SIZES = (10, 100)
# Methods whose cost grows with the number of parameters (finite differences, and any other method
# not named here) are skipped at a size where the previous size's time, scaled by the step ratio,
# exceeds this many CPU seconds per gradient.
BUDGET = {False: 5.0, True: 0.3}
ALWAYS = ("adjoint", "checkpointed", "discrete_adjoint", "backprop", "reversible_heun")

Row = namedtuple("Row", ["method", "n_steps", "seconds", "forward_seconds", "peak_bytes", "f_evals", "vjps", "error",
                         "intervals"], defaults=(1,))
Row.__doc__ = """One cell of the benchmark: a method at n_steps per interval (on `intervals` observation intervals),
or seconds=None and error=the reason it was skipped."""


def bench_problem():
    """The default problem on one observation interval [0, 1]: n_steps is the total step count."""
    return default_problem(n_times=2)


def method_settings(label, n_steps):
    """The keyword arguments of `gradients` for a row label: "checkpointed" is the adjoint with
    `auto_checkpoints`, "reversible_heun" the adjoint of solver="reversible_heun" (n_steps of its steps)."""
    if label == "checkpointed":
        return {"method": "adjoint", "checkpoints": auto_checkpoints(n_steps)}
    if label == "reversible_heun":
        return {"method": "adjoint", "solver": "reversible_heun"}
    return {"method": label}


def gradient_call(problem, f, n_steps, label):
    """A zero-argument callable computing the gradients of `problem` (with dynamics f) by `label`."""
    p, options = problem, method_settings(label, n_steps)
    return lambda: gradients(p.loss, f, p.z0, p.theta, p.ts, n_steps, **options)


def cpu_seconds(calls, number, rounds):
    """{name: CPU seconds per call} for the zero-argument callables `calls`, each called `number`
    times per round; rounds interleave the callables and the fastest round counts."""
    best = dict.fromkeys(calls, np.inf)
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.process_time()
            for _ in range(number):
                call()
            best[name] = min(best[name], (time.process_time() - start) / number)
    return best


def peak_memory(call):
    """(call(), peak bytes allocated by Python while it ran), by tracemalloc."""
    tracemalloc.start()
    try:
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def gradient_vector(g):
    """(dL/dz0, dL/dθ, dL/dts) as one flat vector."""
    return ravel_tree((g.z0, g.theta, g.ts))


def measure_cell(problem, label, n_steps, forward_seconds, reference, rounds):
    """Time, peak memory, f evaluations, VJPs and error of one gradient by `label` at n_steps."""
    seconds = cpu_seconds({label: gradient_call(problem, problem.f, n_steps, label)}, 1, rounds)[label]
    counted = CountedDynamics(problem.f)
    g, peak = peak_memory(gradient_call(problem, counted, n_steps, label))
    error = relative_difference(gradient_vector(g), reference)
    return Row(label, n_steps, seconds, forward_seconds, peak, counted.evaluations, counted.vjps, error,
               len(problem.ts) - 1)


def too_expensive(label, n_steps, previous, budget):
    """Why `label` is skipped at n_steps (a string), or None: only methods outside ALWAYS are
    skipped, when their last measured time scaled by the step ratio exceeds `budget` seconds."""
    if label in ALWAYS or previous is None:
        return None
    estimate = previous.seconds * n_steps / previous.n_steps
    if estimate <= budget:
        return None
    return f"skipped: ≈{estimate:.2g} s per gradient (scaled from {previous.n_steps} steps) > {budget:g} s budget"


_KEPT = {}  # results on bench_problem(), so `bench` draws its figure from the rows it printed


def reference_gradient(quick, problem=None):
    """The flat gradient every row is compared with: the discrete adjoint at twice the largest step
    count, on `problem` (default: `bench_problem()`, whose reference is kept)."""
    if problem is None:
        return _kept(("reference", quick), lambda: reference_gradient(quick, bench_problem()))
    ref_steps = 2 * (QUICK_SIZES if quick else SIZES)[-1]
    return gradient_vector(gradient_call(problem, problem.f, ref_steps, "discrete_adjoint")())


def _kept(key, compute):
    """_KEPT[key], computed the first time by compute()."""
    if key not in _KEPT:
        _KEPT[key] = compute()
    return _KEPT[key]


def measure(quick, problem=None, progress=None):
    """Every Row of the benchmark on `problem` (default: `bench_problem()`, whose rows are kept).

    progress(done, total, label), if given, is called before each measurement.
    """
    if problem is None:
        return _kept(("rows", quick), lambda: _measure(quick, None, progress))
    return _measure(quick, problem, progress)


def _measure(quick, problem, progress):
    p = problem or bench_problem()
    sizes = QUICK_SIZES if quick else SIZES
    labels = ALWAYS + tuple(m for m in METHODS if m not in ALWAYS)
    report = progress or (lambda done, total, label: None)
    total = 1 + len(sizes) * len(labels)
    report(0, total, f"reference: discrete adjoint at {2 * sizes[-1]} steps")
    reference = reference_gradient(quick, problem)
    rows, last = [], {}
    for n_steps in sizes:
        rounds = 1 if quick or n_steps >= 10000 else 2 if n_steps >= 1000 else 5
        forward = cpu_seconds({"forward": lambda: integrate(p.f, p.z0, p.theta, p.ts, n_steps)}, 1, rounds)["forward"]
        for label in labels:
            reason = too_expensive(label, n_steps, last.get(label), BUDGET[quick])
            report(1 + len(rows), total, f"{label} at {n_steps} steps")
            if reason:
                rows.append(Row(label, n_steps, None, forward, None, None, None, reason))
                continue
            rows.append(measure_cell(p, label, n_steps, forward, reference, rounds))
            last[label] = rows[-1]
    return tuple(rows)


def format_row(row):
    """One line of the table."""
    head = f"{row.method:<19}{row.n_steps:>7}"
    if row.seconds is None:
        return f"{head}   {row.error}"
    per_step = row.vjps / (row.n_steps * row.intervals)
    return (head + f"{row.seconds * 1e3:>12.1f}{row.seconds / row.forward_seconds:>8.1f}"
            f"{row.peak_bytes / 1024:>12.1f}{row.f_evals:>9}{row.vjps:>8}{per_step:>7.2f}{row.error:>11.1e}")


HEADER = (f"{'method':<19}{'steps':>7}{'ms/grad':>12}{'×fwd':>8}{'peak KiB':>12}{'f evals':>9}{'VJPs':>8}"
          f"{'/step':>7}{'rel.err':>11}")


def measured(rows, method, n_steps, field):
    """rows' `field` of `method` at n_steps, or None if it was not measured."""
    for row in rows:
        if row.method == method and row.n_steps == n_steps and row.seconds is not None:
            return getattr(row, field)
    return None


def ratio_lines(rows, sizes):
    """The headline ratios of `rows` (memory growth, adjoint vs backprop time) as lines of text."""
    # The sizes compared: memory at 100 → 10000 steps, time at 1000 (with --quick: 10 → 100, time at 100).
    small, mid, large = (sizes[-3], sizes[-2], sizes[-1]) if len(sizes) > 2 else (sizes[0], sizes[-1], sizes[-1])
    lines = ["ratios from this run (memory is deterministic; times vary with machine load):"]
    for method in ALWAYS:
        growth = measured(rows, method, large, "peak_bytes") / measured(rows, method, small, "peak_bytes")
        lines.append(f"  {method:<17} peak memory at {large} steps / at {small} steps: {growth:8.2f}")
    speed = measured(rows, "adjoint", mid, "seconds") / measured(rows, "backprop", mid, "seconds")
    lines.append(f"  adjoint time / backprop time at {mid} steps: {speed:.2f}")
    return lines


ADAPTIVE_LABELS = {"adjoint": {"method": "adjoint"}, "adjoint, seminorm": {"method": "adjoint", "seminorm": True},
                   "backprop": {"method": "backprop"}}
ADAPTIVE_RTOLS = {False: (1e-4, 1e-7, 1e-10), True: (1e-4, 1e-7)}

AdaptiveRow = namedtuple("AdaptiveRow", ["label", "rtol", "seconds", "forward", "backward", "error", "gradient"])
AdaptiveRow.__doc__ = """One gradient with solver="dopri5" at rtol = atol: CPU seconds, the step counts
{"accepted", "rejected", "f_evals"} of the forward and backward solves (backward None for backprop),
the relative error of (dL/dz0, dL/dθ, dL/dts) and that gradient as one flat vector."""


def measure_adaptive(problem, rtols, reference):
    """One AdaptiveRow per entry of ADAPTIVE_LABELS and rtol (with atol = rtol) on `problem`, the error
    measured against the flat gradient `reference` (each gradient computed and timed once)."""
    rows = []
    for rtol in rtols:
        for label, options in ADAPTIVE_LABELS.items():
            stats, start = {}, time.process_time()
            g = gradients(problem.loss, problem.f, problem.z0, problem.theta, problem.ts, solver="dopri5",
                          rtol=rtol, atol=rtol, stats=stats, **options)
            seconds = time.process_time() - start
            flat = gradient_vector(g)
            rows.append(AdaptiveRow(label, rtol, seconds, stats["forward"], stats.get("backward"),
                                    relative_difference(flat, reference), flat))
    return tuple(rows)


def adaptive_lines(rows):
    """The table of `measure_adaptive` rows as lines of text: time, accepted/rejected steps and f
    evaluations of each pass, error."""
    lines = [f"{'solver=dopri5':<19}{'rtol':>7}{'ms/grad':>10}{'fwd steps':>11}{'f evals':>9}{'bwd steps':>11}"
             f"{'f evals':>9}{'rel.err':>10}"]
    for row in rows:
        passes = ""
        for counts in (row.forward, row.backward):
            steps = "-" if counts is None else f"{counts['accepted']}/{counts['rejected']}"
            passes += f"{steps:>11}{'-' if counts is None else counts['f_evals']:>9}"
        lines.append(f"{row.label:<19}{row.rtol:>7.0e}{row.seconds * 1e3:>10.1f}{passes}{row.error:>10.1e}")
    return lines


def backward_stage(vjp_of_f, z, lam, theta, t):
    """One stage of the backward pass: f(z, θ, t) and λ ∂f/∂z, λ ∂f/∂θ, λ ∂f/∂t (eqs. 11–12) from vjp_of_f."""
    dz_dt, pullback = vjp_of_f(z, theta, t)
    return dz_dt, pullback(lam)


def stage_calls(problem, seed=0):
    """Zero-argument callables for f alone and for one backward stage (eqs. 11–12) of `problem` at the
    middle of its time span, each stage twice: f traced by autograd at every call (`fast_vjp.traced`,
    one make_vjp) and f replayed from the tape `fast_vjp.vjp_of` keeps (what the solvers do). For the
    default MLP, both with autograd tracing its formula (as for a user's own f, mlp_formula) and with
    its hand-written VJP (mlp_dynamics)."""
    rng = np.random.default_rng(seed)
    f, z, theta, t = problem.f, problem.z0, problem.theta, float(np.mean(problem.ts))
    lam = rng.normal(size=np.shape(z))
    stages = ({"backward stage, f traced by autograd (mlp_formula)": (traced, mlp_formula),
               "backward stage, f replayed from its tape (mlp_formula)": (vjp_of, mlp_formula),
               "backward stage, f with hand-written VJP (mlp_dynamics)": (traced, mlp_dynamics),
               "backward stage, hand-written VJP, replayed (mlp_dynamics)": (vjp_of, mlp_dynamics)}
              if f is mlp_dynamics else
              {"backward stage (one make_vjp of f)": (traced, f),
               "backward stage, f replayed from its tape": (vjp_of, f)})
    calls = {"f(z, θ, t) alone": lambda: f(z, theta, t)}
    for name, (how, dynamics) in stages.items():
        vjp_of_f = vjp_of(dynamics) if how is vjp_of else \
            functools.partial(traced, dynamics, flat_theta=ravel_tree(theta))  # θ flattened once, as vjp_of does
        calls[name] = functools.partial(backward_stage, vjp_of_f, z, lam, theta, t)
    return calls


def stage_times(problem, quick):
    """{name: CPU seconds per call} for each entry of `stage_calls(problem)`, best of interleaved rounds."""
    return cpu_seconds(stage_calls(problem), number=20 if quick else 200, rounds=3 if quick else 20)
