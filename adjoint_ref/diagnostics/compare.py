"""Every way to the gradient, side by side (`adjoint-ref bench --compare`): error, memory, time, f evaluations.

On three problems of the zoo — the default tanh MLP, Lorenz on [0, 0.4] (chaotic) and the strongly
contracting linear flow — each way is run at a few settings (RK4 steps per interval, or the tolerance of
the adaptive solver), and one gradient is measured as `bench` does: CPU time (best of interleaved rounds),
peak Python memory (tracemalloc, a separate run), evaluations of f (each with or without a VJP), and the
relative error of (dL/dz0, dL/dθ, dL/dts) against the exact gradient, taken as the discrete adjoint of a
very fine RK4 solve (REFERENCE_STEPS per interval: RK4's error there is far below every error measured).
A way that fails (the solve overflows, the backward z blows up) gets a row saying so.

`crossover` answers a second question: forward sensitivities against the adjoint as the number of
parameters and the size of the state grow (`sensitivity` builds dz/dθ from one VJP per entry of z, so its
cost grows with the state, and only through a matrix product with the parameters).
"""
import warnings
from collections import namedtuple

import numpy as np

from .._impl.metrics import relative_difference
from .._impl.tree import ravel_tree
from .._impl.checkpoints import auto_checkpoints
from ..adjoint import AdjointDriftWarning
from ..api import gradients
from ..problems.models import default_problem
from ..problems.zoo import ZOO
from .bench import CountedDynamics, cpu_seconds, gradient_vector, peak_memory

PROBLEMS = ("mlp", "lorenz", "contracting")
STEPS = {False: (20, 80, 320), True: (4,)}  # RK4 steps per observation interval
SAME_EVALUATIONS = 4  # reversible Heun takes this many times as many steps: one f per step against RK4's four
RTOLS = {False: (1e-4, 1e-7, 1e-10), True: (1e-4,)}  # dopri5's rtol = atol
REFERENCE_STEPS = {False: 5000, True: 32}

# label: (the keyword arguments of `gradients`, the kind of its setting: RK4 steps, a tolerance, or reversible
# Heun steps, SAME_EVALUATIONS times RK4's so that a row costs about as many evaluations of f as RK4's)
WAYS = {
    "backprop": ({"method": "backprop"}, "steps"),
    "discrete adjoint": ({"method": "discrete_adjoint"}, "steps"),
    "adjoint": ({"method": "adjoint"}, "steps"),
    "checkpointed": ({"method": "adjoint", "checkpoints": auto_checkpoints}, "steps"),
    "forward sensitivity": ({"method": "forward_sensitivity"}, "steps"),
    "dopri5 adjoint": ({"method": "adjoint", "solver": "dopri5"}, "tolerance"),
    "reversible Heun": ({"method": "adjoint", "solver": "reversible_heun"}, "reversible steps"),
}

Row = namedtuple("Row", ["problem", "way", "setting", "seconds", "peak_bytes", "f_evals", "error", "note"])
Row.__doc__ = """One gradient: problem and way, its setting (steps per interval, or rtol = atol), CPU seconds,
peak bytes, f evaluations, relative error against the exact gradient, and a note ("" if none; for a
failed way the reason, with seconds, peak_bytes, f_evals and error None)."""


def arguments(way, setting):
    """The keyword arguments of `gradients` for `way` at `setting` (steps per interval, or rtol = atol)."""
    options, kind = WAYS[way]
    options = dict(options)
    if kind == "tolerance":
        return dict(options, rtol=setting, atol=setting)
    if callable(options.get("checkpoints")):
        options["checkpoints"] = options["checkpoints"](setting)
    return dict(options, n_steps=setting)


def call(problem, f, way, setting):
    """A zero-argument callable computing the gradients of `problem` with dynamics f by `way` at `setting`,
    with the plain adjoint's drift warnings silenced (the error column shows their effect)."""
    p, options = problem, arguments(way, setting)

    def gradient():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AdjointDriftWarning)
            return gradients(p.loss, f, p.z0, p.theta, p.ts, **options)

    return gradient


def reference(problem, quick):
    """The exact gradient of `problem` as one flat vector: the discrete adjoint at REFERENCE_STEPS steps."""
    p = problem
    return gradient_vector(gradients(p.loss, p.f, p.z0, p.theta, p.ts, REFERENCE_STEPS[quick], "discrete_adjoint"))


def measure_way(name, problem, way, setting, exact, rounds):
    """The Row of one way at one setting on `problem` (named `name`)."""
    try:
        seconds = cpu_seconds({way: call(problem, problem.f, way, setting)}, 1, rounds)[way]
        counted = CountedDynamics(problem.f)
        g, peak = peak_memory(call(problem, counted, way, setting))
    except FloatingPointError as err:
        return Row(name, way, setting, None, None, None, None, "fails: " + str(err).split(":")[0])
    error = relative_difference(gradient_vector(g), exact)
    note = "" if np.isfinite(error) and error < 1 else "no correct digit"
    return Row(name, way, setting, seconds, peak, counted.evaluations, error, note)


def settings_of(kind, quick):
    """The settings a way of this kind is measured at: RK4 steps, tolerances, or reversible Heun steps."""
    if kind == "tolerance":
        return RTOLS[quick]
    return STEPS[quick] if kind == "steps" else tuple(SAME_EVALUATIONS * n for n in STEPS[quick])


_KEPT = {}  # quick → rows, so that --out draws the figure from the rows printed


def measure(quick, progress=None):
    """Every Row: each problem of PROBLEMS, each way of WAYS, each setting (kept per `quick`).

    progress(done, total, label), if given, is called before each measurement."""
    if quick not in _KEPT:
        _KEPT[quick] = _measure(quick, progress or (lambda done, total, label: None))
    return _KEPT[quick]


def _measure(quick, progress):
    settings = {way: settings_of(kind, quick) for way, (_, kind) in WAYS.items()}
    total = len(PROBLEMS) * (1 + sum(map(len, settings.values())))
    rows, done = [], 0
    for name in PROBLEMS:
        problem = ZOO[name].make()
        progress(done, total, f"{name}: the exact gradient")
        exact, done = reference(problem, quick), done + 1
        for way, values in settings.items():
            for setting in values:
                progress(done, total, f"{name}: {way} at {setting:g}")
                rows.append(measure_way(name, problem, way, setting, exact, 1 if quick else 3))
                done += 1
    return tuple(rows)


HEADER = (f"{'problem':<12}{'way':<21}{'setting':>8}{'ms/grad':>10}{'peak KiB':>11}{'f evals':>9}{'rel.err':>10}"
          "  note")


def format_row(row):
    """One line of the comparison table."""
    setting = f"{row.setting:.0e}" if row.setting < 1 else f"{row.setting:d}"
    head = f"{row.problem:<12}{row.way:<21}{setting:>8}"
    if row.seconds is None:
        return f"{head}  {row.note}"
    return (head + f"{row.seconds * 1e3:>10.1f}{row.peak_bytes / 1024:>11.1f}{row.f_evals:>9}{row.error:>10.1e}"
            + (f"  {row.note}" if row.note else ""))


Crossover = namedtuple("Crossover", ["state", "hidden", "parameters", "adjoint", "sensitivity"])
Crossover.__doc__ = """CPU seconds of one gradient by the adjoint and by forward sensitivities on the MLP with
`state` numbers in z and `hidden` hidden units (`parameters` entries of θ), measured side by side."""

SHAPES = {False: ((0, 1), (0, 2), (4, 2), (16, 2)), True: ((0, 1), (4, 2))}  # (batch, dim) of z0
HIDDEN = {False: (4, 32, 256, 1024), True: (4,)}


def crossover(quick):
    """A Crossover per state shape in SHAPES and width in HIDDEN: the MLP on [0, 1] (one interval, 20 RK4
    steps), the two methods timed in interleaved rounds."""
    rows = []
    for batch, dim in SHAPES[quick]:
        for hidden in HIDDEN[quick]:
            p = default_problem(hidden=hidden, batch=batch, dim=dim, n_times=2)
            calls = {method: (lambda m=method: gradients(p.loss, p.f, p.z0, p.theta, p.ts, 20, m))
                     for method in ("adjoint", "forward_sensitivity")}
            seconds = cpu_seconds(calls, 1, 2 if quick else 5)
            rows.append(Crossover(p.z0.size, hidden, ravel_tree(p.theta).size, seconds["adjoint"],
                                  seconds["forward_sensitivity"]))
    return tuple(rows)


def crossover_lines(rows):
    """The crossover table as lines of text: time of each method and their ratio."""
    lines = [f"{'state size':>10}{'hidden':>8}{'parameters':>12}{'adjoint ms':>12}{'fwd sens ms':>13}{'ratio':>8}"]
    for r in rows:
        lines.append(f"{r.state:>10}{r.hidden:>8}{r.parameters:>12}{r.adjoint * 1e3:>12.1f}{r.sensitivity * 1e3:>13.1f}"
                     f"{r.sensitivity / r.adjoint:>8.2f}")
    return lines
