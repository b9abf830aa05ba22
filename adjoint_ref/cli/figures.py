"""The figure gallery: `adjoint-ref figures --force` regenerates every PNG in figures/.

A figure is one function `draw(quick) -> matplotlib.figure.Figure`, registered with
`@figure("name.png", "caption")`. `quick=True` asks for the cheapest settings that still draw every
element (used by the tests). Draw functions build `Figure()` objects directly, never through pyplot,
so no global matplotlib state (backend, current figure) is touched; PNGs are written by Agg with the
default style and fixed metadata, so the same code gives the same image.
"""
import contextlib
import os
import textwrap
import time
import warnings
from collections import namedtuple

import numpy as np
from autograd import grad

from ..diagnostics import equations
from .. import lagrangian as lg
from ..adjoint import AdjointDriftWarning
from ..api import gradients, odeint
from ..diagnostics import compare
from ..diagnostics.bench import ADAPTIVE_LABELS, BUDGET, gradient_vector, measure, measure_adaptive
from .._impl.files import OutputTaken, write_atomically
from .._impl.metrics import relative_difference
from ..problems.zoo import ZOO
from ..problems.models import (autonomous_mlp_dynamics, contracting_problem, cosine_problem, default_problem,
                               pendulum_problem, shear_problem)
from .. import discrete_adjoint as da
from ..rk4 import integrate, rk4_step, step_states
from ..sensitivity import forward_sensitivities
from ..trajectory import adjoint_trajectory
from .train import fit
from .._impl.tree import ravel_tree

FIGURES = {}  # file name → (caption, draw)


def figure(name, caption):
    """Register `draw(quick)` as the figure `name` (a .png file name) with a one-line caption."""
    def register(draw):
        FIGURES[name] = (caption, draw)
        return draw
    return register


def render(names=None, out="figures", quick=False, log=print, progress=None, replace=True):
    """Draw the named figures (all by default) into the folder `out`; return the paths written.

    log(text) gets a line per file written; progress(done, total, name), if given, is called before each.
    With replace=False a file that exists when its figure is done (another run wrote it meanwhile) is
    kept; the others are still drawn, and then `files.OutputTaken` names the ones kept."""
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"names: unknown figure(s) {unknown}; known: {sorted(FIGURES)}")
    os.makedirs(out, exist_ok=True)
    paths, taken = [], []
    for done, name in enumerate(names):
        if progress:
            progress(done, len(names), name)
        start = time.perf_counter()
        path = os.path.join(out, name)
        try:
            draw_and_save(lambda: FIGURES[name][1](quick), path, replace)
        except OutputTaken:
            taken.append(path)
            continue
        paths.append(path)
        log(f"wrote {path} ({time.perf_counter() - start:.1f} s)")
    if taken:
        raise OutputTaken(taken)
    return paths


def load_matplotlib():
    """Import matplotlib now, before any work, with the MPLBACKEND variable set aside meanwhile: the
    figures are drawn on Figure objects and written by Agg, so no backend is ever used, and an invalid
    MPLBACKEND (which makes matplotlib's import fail) must not stop a run once its work is done."""
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        import matplotlib  # noqa: F401
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved


@contextlib.contextmanager
def _gallery_style():
    import matplotlib

    # The defaults without "backend": putting back its automatic-choice placeholder makes matplotlib
    # choose a backend for good (importing pyplot), a global change that outlives rc_context.
    defaults = {key: value for key, value in matplotlib.rcParamsDefault.items() if key != "backend"}
    with matplotlib.rc_context(defaults), matplotlib.rc_context({"savefig.dpi": 100}):
        yield


def draw_and_save(draw, path, replace=True):
    """Call draw() under matplotlib's default style and write its Figure to `path` (PNG, 100 dpi),
    atomically (`files.write_atomically`): an interrupted run leaves the earlier file whole; with
    replace=False a file there already is kept (`files.OutputTaken`)."""
    write_atomically(path, png_writer(draw), replace)


def png_writer(draw):
    """Call draw() under matplotlib's default style now; return write(handle), which saves the Figure
    as PNG (100 dpi, fixed metadata) under the same style, for `files.write_together`."""
    with _gallery_style():
        fig = draw()

    def write(handle):
        with _gallery_style():
            fig.savefig(handle, format="png", metadata={"Software": None})
    return write


def _new_figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _observation_times(ax, ts, names=True):
    """Grey lines at the observation times; with `names`, a top axis names them $t_0$ … $t_N$."""
    for t in ts:
        ax.axvline(t, color="0.8", lw=0.8, zorder=0)
    if names:
        top = ax.secondary_xaxis("top")
        top.set_xticks(ts, [f"$t_{{{i}}}$" for i in range(len(ts) - 1)] + ["$t_1$" if len(ts) == 2 else "$t_N$"])
        top.tick_params(length=0, pad=1)


def _time_arrow(ax, start, end, text, y=0.9, color="0.3"):
    """An arrow from t = start to t = end at height y (axes fraction), with `text` above its middle."""
    where = ax.get_xaxis_transform()
    ax.annotate("", xy=(end, y), xytext=(start, y), xycoords=where,
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.2))
    ax.text((start + end) / 2, y + 0.02, text, transform=where, ha="center", va="bottom", fontsize=8, color=color)


def _headroom(ax, fraction):
    """Raise the top of the y-range by `fraction` of its height: room for a legend or an arrow above the curves."""
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + fraction * (high - low))


def _component(symbol, k):
    r"""The math-text name of component k (from 0) of a vector: "$\lambda_1(t)$" for ("\lambda", 0)."""
    return rf"${symbol}_{k + 1}(t)$"


def draw_fit(result):
    """A training run (train.Fit): z(t) observed and learned, the phase portrait, the learned field, the losses."""
    data, theta = result.data, result.theta
    learned = odeint(autonomous_mlp_dynamics, data.observed[0], theta, data.ts, result.n_steps)
    fig = _new_figure(10.5, 7.5)
    (ax_t, ax_phase), (ax_field, ax_loss) = fig.subplots(2, 2)
    for k, name in enumerate(("(angle)", "(angular velocity)")):
        ax_t.plot(data.ts, data.observed[:, k], ".", ms=3, color=f"C{k}", alpha=0.4,
                  label=f"observed $z_{k + 1}$ {name}")
        ax_t.plot(data.ts, learned[:, k], "-", color=f"C{k}", label=f"learned $z_{k + 1}$ {name}")
    ax_t.set(xlabel="$t$", ylabel="$z(t)$", title="observations and the learned solution from $z(t_0)$")
    ax_t.legend(fontsize=7)
    for ax in (ax_phase, ax_field):
        ax.plot(data.observed[:, 0], data.observed[:, 1], ".", ms=3, color="0.5", label="observed")
        ax.plot(learned[:, 0], learned[:, 1], "-", color="C3", label="learned")
        ax.set(xlabel="$z_1$", ylabel="$z_2$")
    ax_phase.set_title("phase portrait")
    ax_phase.legend(fontsize=7)
    arrows = _draw_field(ax_field, autonomous_mlp_dynamics, theta, data.observed)
    fig.colorbar(arrows, ax=ax_field, label=r"speed $\|f(z, \theta)\|$")
    ax_field.set_title(r"learned vector field $f(z, \theta)$")
    ax_loss.semilogy(np.arange(len(result.history)), result.history, lw=0.7, label="window loss (each iteration)")
    iters, losses = zip(*result.checkpoints)
    ax_loss.semilogy(iters, losses, "o-", color="C3", label="loss over all observed points")
    ax_loss.set(xlabel="Adam iteration", ylabel="$L$ (mean squared error)", title="training loss")
    ax_loss.legend(fontsize=7)
    return fig


def _draw_field(ax, f, theta, points, n=17):
    """Arrows of f(z, θ, 0) on an n × n grid spanning `points` (with a margin), coloured by their
    length; returns the quiver, for a colourbar."""
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.15 * (high - low)
    z1, z2 = np.meshgrid(*(np.linspace(a, b, n) for a, b in zip(low - margin, high + margin)))
    dz = f(np.stack([z1.ravel(), z2.ravel()], axis=1), theta, 0.0)
    arrows = ax.quiver(z1, z2, dz[:, 0].reshape(z1.shape), dz[:, 1].reshape(z1.shape), np.hypot(dz[:, 0], dz[:, 1]),
                       cmap="viridis", angles="xy", width=0.004)
    ax.set(xlim=(z1[0, 0], z1[0, -1]), ylim=(z2[0, 0], z2[-1, 0]))
    return arrows


@figure("spiral_fit.png", "the default `adjoint-ref train` run: the learned solution (lines) follows the "
                          "observed spiral (dots), and the loss over all points falls by orders of magnitude")
def spiral_fit(quick):
    """The result of `adjoint-ref train` with its default options (quick: a few tiny iterations)."""
    return draw_fit(fit(iters=4, hidden=4, batch=3, every=2) if quick else fit())


BackwardSolve = namedtuple("BackwardSolve", ["t_fwd", "z_fwd", "t", "z", "lam", "a_theta"])
BackwardSolve.__doc__ = """A forward solve recorded at every RK4 step (t_fwd, z_fwd) and the adjoint's backward solve
(t, z, λ, a_θ), one row per recorded entry: two entries, before and after the jump, at each t_i."""


def backward_solve(p, n_steps):
    """Record the forward RK4 solve and the backward adjoint solve (eqs. 11–12) of the problem p."""
    forward = [(p.ts[0], p.z0)]
    integrate(p.f, p.z0, p.theta, p.ts, n_steps, record=forward)
    back = adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, n_steps)
    return BackwardSolve(np.array([r[0] for r in forward]), np.array([r[1] for r in forward]), back.t, back.z,
                         back.lam, back.a_theta)


@figure("adjoint_trajectories.png", "one backward solve of a damped pendulum fitted at four times: z(t) "
                                    "re-integrated backwards lies on the forward z(t), λ(t) jumps by ∂L/∂z(tᵢ) at "
                                    "each observation time, and a_θ(t) grows to dL/dθ, matching backprop (stars)")
def adjoint_trajectories(quick):
    """The recorded backward solve (eqs. 11–12) of `models.pendulum_problem`: z, λ and a_θ against t."""
    p = pendulum_problem()
    solve = backward_solve(p, 4 if quick else 20)
    backprop = gradients(p.loss, p.f, p.z0, p.theta, p.ts, 4 if quick else 20, "backprop").theta
    fig = _new_figure(8, 8.5)
    ax_z, ax_lam, ax_a = fig.subplots(3, 1, sharex=True)
    for k in range(2):
        ax_z.plot(solve.t_fwd, solve.z_fwd[:, k], "-", color=f"C{k}", label=_component("z", k) + " forward")
        ax_z.plot(solve.t, solve.z[:, k], "o", ms=2.5, mfc="none", color=f"C{k}",
                  label=_component("z", k) + " backward")
        ax_lam.plot(solve.t, solve.lam[:, k], "-", color=f"C{k}", label=_component(r"\lambda", k))
        ax_a.plot(solve.t, solve.a_theta[:, k], "-", color=f"C{k + 2}",
                  label=rf"$a_{{\theta,{k + 1}}}(t) = \int_t^{{t_N}} \lambda\, \partial f/\partial\theta_{k + 1}\, dt'$")
        ax_a.plot([p.ts[0]], [backprop[k]], "*", ms=12, color=f"C{k + 2}", mec="k", mew=0.5,
                  label=rf"$dL/d\theta_{k + 1}$ by backprop")
    ax_z.set(ylabel="$z(t)$", title="forward solve (lines) and the backward re-integration of $z$ (circles)")
    ax_lam.set(ylabel=r"$\lambda(t)$", title=r"adjoint $\lambda(t)$, eq. (11), solved from $t_N$ back to $t_0$")
    ax_a.set(xlabel="$t$", ylabel=r"$a_\theta(t)$", title=r"$dL/d\theta$ accumulated during the backward solve (eq. 12)")
    t0, tn = p.ts[0], p.ts[-1]
    for ax in (ax_z, ax_lam, ax_a):
        _headroom(ax, 0.45)
        _observation_times(ax, p.ts, names=ax is ax_z)
        ax.legend(fontsize=7, loc="upper right", ncol=2)
    _time_arrow(ax_z, t0 + 0.02 * (tn - t0), t0 + 0.3 * (tn - t0), "forward: $t_0 \\to t_N$")
    for ax in (ax_lam, ax_a):
        _time_arrow(ax, t0 + 0.3 * (tn - t0), t0 + 0.02 * (tn - t0), "backward: $t_N \\to t_0$")
    return fig


@figure("gradient_convergence.png", "relative error of dL/dθ against n_steps: adjoint and backprop both fall "
                                    "parallel to the slope −4 guide (RK4 is order 4); below the dotted "
                                    "finite-difference floor a check against finite differences could no "
                                    "longer see the error")
def gradient_convergence(quick):
    """Adjoint and backprop dL/dθ against a fine-grid reference, for n_steps = 1, 2, 4, …"""
    p = default_problem(hidden=4 if quick else 16)
    steps = np.array([1, 2, 4] if quick else [1, 2, 4, 8, 16, 32])
    n_reference = 8 * steps[-1]

    def dL_dtheta(n_steps, method):
        return gradients(p.loss, p.f, p.z0, p.theta, p.ts, int(n_steps), method).theta

    reference = dL_dtheta(n_reference, "backprop")
    fig = _new_figure(6.5, 4.8)
    ax = fig.subplots()
    errors = {}
    for method, marker in (("adjoint", "o"), ("backprop", "s")):
        errors[method] = [relative_difference(dL_dtheta(n, method), reference) for n in steps]
        ax.loglog(steps, errors[method], marker + "-", mfc="none", label=method)
    guide = 3 * errors["adjoint"][0] * (steps / steps[0]) ** -4.0
    ax.loglog(steps, guide, "--", color="0.5", label=r"slope $-4$ guide: $\propto n^{-4} \propto h^4$")
    n_fd = 4
    floor = relative_difference(dL_dtheta(n_fd, "backprop"), dL_dtheta(n_fd, "finite_differences"))
    ax.axhline(floor, color="C3", ls=":", label=f"finite-difference floor: backprop vs FD at $n = {n_fd}$")
    ax.set(xlabel="$n$ = n_steps (RK4 steps per observation interval)", ylabel=r"relative error of $dL/d\theta$",
           title=f"convergence to the fine-grid gradient (backprop, $n = {n_reference}$)")
    ax.set_xticks(steps, [str(n) for n in steps])
    ax.set_xticks([], minor=True)
    ax.legend(fontsize=7)
    return fig


@figure("lagrangian_terms.png", "Eq. (10): the sizes of its three terms for an arbitrary λ and for the adjoint λ")
def draw_lagrangian_terms(quick):
    """Bars of ‖term 1‖, ‖term 2‖, ‖term 3‖ of eq. (10), ‖sum − dL/dθ‖ and ‖dL/dθ‖, on a log scale, for both λ."""
    problem = default_problem(hidden=4 if quick else 16)
    ev = equations.evaluate(problem, 4 if quick else 10, log=lambda text: None, running_cost=False)
    dL_dtheta = ravel_tree(ev.reference["backprop"].theta)
    fig = _new_figure(11, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    names = ["term 1\nbracket", "term 2\n" r"$\int(\dot\lambda + \lambda\,\partial f/\partial z)\,S$",
             "term 3\n" r"$\int\lambda\,\partial f/\partial\theta$", "sum $-$\n" r"$dL/d\theta$",
             r"$dL/d\theta$" "\n(backprop)"]
    for ax, name, lam, on in zip(axes, (r"arbitrary $\lambda$ (random sines)", r"adjoint $\lambda$, eq. (11)"),
                                 (ev.arbitrary, ev.adjoint), (ev.on_arbitrary, ev.on_adjoint)):
        terms = lg.eq10_terms(ev.dL_dzs, lam.lam, lam.lam_dot, ev.path.S, on.lam_fz, on.lam_ftheta, ev.path.t)
        sizes = [np.linalg.norm(term) for term in terms] + [np.linalg.norm(sum(terms) - dL_dtheta),
                                                            np.linalg.norm(dL_dtheta)]
        bars = ax.bar(names, np.maximum(sizes, 1e-17), color=["C0", "C1", "C2", "0.6", "k"])
        ax.bar_label(bars, [f"{s:.1e}" for s in sizes], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(1e-16, 1e4)
        ax.set_title(name)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].set_ylabel("norm (log scale)")
    fig.suptitle(r"The three terms of eq. (10) add up to $dL/d\theta$ for any $\lambda$; "
                 r"the adjoint $\lambda$ leaves only term 3")
    return fig


FLOOR = 1e-17  # reconstruction_error.png draws smaller gaps (zero at the observation times) at this value


@figure("reconstruction_error.png",
        "How far the z used by the backward pass is from the forward pass's z, on a strongly contracting "
        "linear flow: integrating z backwards (plain adjoint) against re-integrating it from checkpoints; the "
        "checkpointed gap is not 0 but RK4's own error (up to ~1e-6 near t0): it re-integrates z at half steps, "
        "a more accurate solution than the forward pass's steps, and equals it only at the checkpoints")
def reconstruction_error(quick):
    """‖z_backward(t) − z_forward(t)‖ against t for the plain and the checkpointed adjoint."""
    p = contracting_problem()
    (t0, t1), n_steps = p.ts, 50 if quick else 200
    fig = _new_figure(6.8, 4.4)
    ax = fig.add_subplot()
    for checkpoints, label in ((None, "plain adjoint: $z$ integrated backwards"),
                               (4, "checkpointed adjoint ($K = 4$): $z$ re-integrated forwards")):
        with warnings.catch_warnings():  # the plain adjoint's drift is what this figure shows
            warnings.simplefilter("ignore", AdjointDriftWarning)
            back = adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, checkpoints=checkpoints)
        steps = slice(0, -1)  # every step's row; the last row repeats t0 after λ's jump
        gaps = np.linalg.norm(back.z[steps] - back.z_forward[steps], axis=-1)
        ax.semilogy(back.t[steps], np.maximum(gaps, FLOOR), marker=".", label=label)
    ax.set_xlabel("$t$")
    ax.set_ylabel(r"$\|z_{\mathrm{backward}}(t) - z_{\mathrm{forward}}(t)\|$")
    ax.set_title(f"$dz/dt = Az$, eigenvalues $-1$ and $-50$, {n_steps} RK4 steps\n"
                 f"(gaps below {FLOOR:g} drawn at {FLOOR:g})", fontsize=10)
    ax.annotate("checkpointed: $z$ re-integrated at half steps $h/2$,\na more accurate RK4 solution than the\n"
                "forward steps of $h$; the gap is RK4's own error,\nlargest while $e^{-50t}$ lives",
                (0.02 * (t1 - t0) + t0, 1e-6), (0.10, 0.04), textcoords="axes fraction", fontsize=8, color="C1",
                arrowprops=dict(arrowstyle="-", color="C1", lw=0.6))
    ax.legend(loc="upper right", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return fig


@figure("adjoint_drift.png", "the zoo's contracting problem (eigenvalues −1 and −50) seen by `ar.adjoint_trajectory`: "
                             "integrated backwards, z leaves the forward z exponentially; λ(t) does not read z here "
                             "(f is linear), but a_θ(t) = ∫ λ zᵀ dt does, and ends far from dL/dθ unless "
                             "checkpoints='auto' recomputes z")
def adjoint_drift(quick):
    """λ(t), a_θ(t) (one entry) of the plain and of the checkpointed adjoint, and the plain one's relative
    drift ‖z_back − z‖ / ‖z‖, on the zoo's "contracting" problem."""
    entry = ZOO["contracting"]
    p, n_steps = entry.make(), 50 if quick else entry.n_steps
    with warnings.catch_warnings():  # the drift is what this figure shows
        warnings.simplefilter("ignore", AdjointDriftWarning)
        plain = adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, n_steps)
        fixed = adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, checkpoints="auto")
    fig = _new_figure(7.5, 8.5)
    ax_lam, ax_a, ax_drift = fig.subplots(3, 1, sharex=True)
    for k in range(2):
        ax_lam.plot(fixed.t, fixed.lam[:, k], "-", color=f"C{k}", label=_component(r"\lambda", k) + ", checkpoints='auto'")
        ax_lam.plot(plain.t, plain.lam[:, k], "--", color="k", lw=0.8, label="plain adjoint" if k else None)
    ax_lam.set(ylabel=r"$\lambda(t)$", title=rf"$\lambda(t)$ from $t_1$ back to $t_0$, {n_steps} RK4 steps: the same "
                                              "in both passes")
    for run, style, name in ((fixed, "-", "checkpoints='auto'"), (plain, "--", "plain adjoint")):
        ax_a.plot(run.t, run.a_theta[:, 0], style, color="C2", label=rf"$a_{{\theta,11}}(t)$, {name}")
    ax_a.set_yscale("symlog", linthresh=0.1)
    ax_a.set(ylabel=r"$a_{\theta,11}(t)$", title=r"$a_\theta(t) = \int_t^{t_1} \lambda\, z^T dt'$ reads $z$: "
                                                 r"the plain one ends far from $dL/d\theta$")
    drift = np.linalg.norm(plain.z - plain.z_forward, axis=-1) / np.linalg.norm(plain.z_forward, axis=-1)
    ax_drift.semilogy(plain.t[1:-1], drift[1:-1], ".-", color="C3", label=r"$\|z_{back} - z\| / \|z\|$, plain adjoint")
    ax_drift.axhline(plain.drift[0].threshold, color="0.4", ls=":", label="the drift check's threshold at $t_0$")
    ax_drift.set(xlabel="$t$", ylabel="relative drift", title="the backward $z$ against the forward $z$ at the same times")
    for ax in (ax_lam, ax_a, ax_drift):
        ax.legend(fontsize=7, loc="lower left" if ax is ax_lam else "upper right")
    return fig


@figure("memory_vs_steps.png",
        "Peak Python memory (tracemalloc) of one gradient against the number of RK4 steps, per method, "
        "as measured by `adjoint-ref bench`; a line that stops early (finite differences, forward "
        "sensitivities: their time grows with the number of parameters) marks the step count at which "
        "`bench` skipped that method, its estimated time per gradient being over its budget")
def memory_vs_steps(quick):
    """Log–log peak memory against steps for every method `bench` measured; a skipped method's line ends
    in a cross, and its legend entry says from which step count it was skipped and why."""
    rows = measure(quick)
    fig = _new_figure(7.6, 4.8)
    ax = fig.add_subplot()
    for method in dict.fromkeys(row.method for row in rows):
        mine = [row for row in rows if row.method == method]
        steps, peaks = zip(*[(row.n_steps, row.peak_bytes / 1024) for row in mine if row.seconds is not None])
        label = (r"checkpointed adjoint, $K = \lceil\sqrt{\mathrm{steps}}\rceil$" if method == "checkpointed"
                 else method.replace("_", " "))
        skipped = [row for row in mine if row.seconds is None]
        if skipped:
            label += f" (skipped from {skipped[0].n_steps} steps: estimated > {BUDGET[quick]:g} s per gradient)"
        line, = ax.loglog(steps, peaks, marker="o", label=label)
        if skipped:
            ax.plot(steps[-1], peaks[-1], "x", ms=14, mew=2, color=line.get_color())
    ax.set_xlabel("RK4 steps")
    ax.set_ylabel("peak memory during one gradient (KiB)")
    ax.set_title("default MLP problem on $[0, 1]$; × : the method's last measured size")
    ax.legend(fontsize=7.5)
    ax.grid(True, which="major", alpha=0.3)
    return fig


@figure("adjoint_timeline.png", "what the adjoint stores and recomputes: the forward pass keeps only z(tᵢ); the "
                                "backward pass re-integrates z with λ from t_N to t₀, and at each tᵢ λ jumps from "
                                "λ(tᵢ⁺) to λ(tᵢ⁻) = λ(tᵢ⁺) + ∂L/∂z(tᵢ)")
def adjoint_timeline(quick):
    """A timeline of one adjoint solve of `models.pendulum_problem`: the two passes, then λ₂(t) with its jumps."""
    p = pendulum_problem()
    solve = backward_solve(p, 4 if quick else 8)
    ts, t0, tn = p.ts, p.ts[0], p.ts[-1]
    fig = _new_figure(10, 6.5)
    ax_pass, ax_lam = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.5])
    for y, times, marker, color in ((1, solve.t_fwd, "o", "C0"), (0, solve.t, "D", "C3")):
        ax_pass.plot(times, np.full(len(times), y), "|", ms=7, color="0.6")
        ax_pass.plot(ts, np.full(ts.size, y), marker, ms=7, color=color)
        start, end = (t0, tn) if y else (tn, t0)
        ax_pass.annotate("", xy=(end, y - 0.2), xytext=(start, y - 0.2), arrowprops=dict(arrowstyle="-|>", color=color))
    ax_pass.text(t0, 1.25, r"forward pass, $t_0 \to t_N$: the RK4 steps (ticks) are computed and dropped;"
                 "\n" r"only $z(t_i)$ (dots) is stored", fontsize=9, color="C0", va="bottom")
    ax_pass.text(t0, 0.25, r"backward pass, $t_N \to t_0$: $z(t)$ is recomputed backwards alongside $\lambda$; at each "
                 r"$t_i$ (diamonds)" "\n" r"$\lambda$ jumps, and the recomputed $z$ is compared with the stored $z(t_i)$",
                 fontsize=9, color="C3", va="bottom")
    ax_pass.set(ylim=(-0.4, 1.8), yticks=[0, 1], yticklabels=["backward", "forward"])
    ax_pass.set_title("one gradient by the adjoint: what is stored, what is recomputed")
    ax_lam.plot(solve.t, solve.lam[:, 1], "-", color="C1", label=r"$\lambda_2(t)$, solved backwards (eq. 11)")
    _mark_jumps(ax_lam, solve.t, solve.lam[:, 1], ts)
    ax_lam.set(xlabel="$t$", ylabel=r"$\lambda_2(t)$")
    _headroom(ax_lam, 0.15)
    ax_lam.legend(fontsize=8, loc="upper right")
    for ax in (ax_pass, ax_lam):
        _observation_times(ax, ts, names=ax is ax_pass)
    return fig


def _jump_limits(t, lam, ts):
    """(λ(tᵢ⁺), λ(tᵢ⁻)) for i = 1 … N from a recorded backward solve (times t, one component lam):
    at an intermediate tᵢ the record holds the step arriving there, then the value after the jump."""
    plus, minus = [], []
    for t_i in ts[1:]:
        at = np.flatnonzero(np.isclose(t, t_i, rtol=0, atol=1e-9 * np.ptp(ts)))
        plus.append(lam[at[0]] if len(at) == 2 else 0.0)  # at t_N: λ(t_N⁺) = 0
        minus.append(lam[at[-1]])
    return np.array(plus), np.array(minus)


def _mark_jumps(ax, t, lam, ts, i=2):
    """Open circles at λ(tᵢ⁺), filled ones at λ(tᵢ⁻), and the words for the jumps at t_N, at tᵢ and at t₀."""
    plus, minus = _jump_limits(t, lam, ts)
    ax.plot(ts[1:], plus, "o", mfc="white", color="C1", ms=7, zorder=3, label=r"$\lambda(t_i^+)$: arriving from the right")
    ax.plot(ts[1:], minus, "o", color="C1", ms=7, zorder=3, label=r"$\lambda(t_i^-)$: after the jump")
    words = dict(textcoords="offset points", fontsize=9, arrowprops=dict(arrowstyle="-", color="0.5", lw=0.6))
    ax.annotate(rf"$\lambda(t_{i}^+)$", (ts[i], plus[i - 1]), (25, -25), **words)
    ax.annotate(rf"$\lambda(t_{i}^-) = \lambda(t_{i}^+) + \partial L/\partial z(t_{i})$", (ts[i], minus[i - 1]),
                (30, 60), **words)
    ax.annotate(r"$\lambda(t_N^+) = 0$", (ts[-1], 0.0), (-25, -25), ha="right", **words)
    ax.annotate(r"$\lambda(t_N^-) = \partial L/\partial z(t_N)$", (ts[-1], minus[-1]), (-25, 20), ha="right", **words)
    ax.annotate(r"$\lambda(t_0) = dL/dz_0$", (ts[0], lam[-1]), (25, 5), **words)


@figure("perturbation_and_adjoint.png", "why the adjoint works: a perturbation δz(t) carried forwards by "
                                        "dδz/dt = ∂f/∂z δz and λ(t) carried backwards by eq. (11) change along "
                                        "the way, but their product λ(t)·δz(t) stays equal to δL")
def perturbation_and_adjoint(quick):
    """δz(t) = dz(t)/dz0 · v (forward sensitivities) and λ(t) (the adjoint) for `models.pendulum_problem`
    observed once, at t1, and the constant λ·δz against δL from two perturbed forward solves."""
    p = pendulum_problem(n_times=2)
    n_steps, v = (8 if quick else 40), np.array([0.6, 0.8])
    path = forward_sensitivities(p.f, p.z0, p.theta, p.ts, n_steps, trace=True)
    t, dz = path.t, path.S[:, :, :2] @ v  # δz(t) = dz(t)/dz0 · v
    lam = backward_solve(p, n_steps).lam[:-1][::-1]  # on the same grid, forwards in time; drop λ(t0⁻)
    epsilon = 1e-6
    dL = (p.loss(integrate(p.f, p.z0 + epsilon * v, p.theta, p.ts, n_steps)) -
          p.loss(integrate(p.f, p.z0 - epsilon * v, p.theta, p.ts, n_steps))) / (2 * epsilon)
    fig = _new_figure(8, 8)
    ax_dz, ax_lam, ax_product = fig.subplots(3, 1, sharex=True)
    for k in range(2):
        ax_dz.plot(t, dz[:, k], color=f"C{k}", label=_component(r"\delta z", k))
        ax_lam.plot(t, lam[:, k], color=f"C{k}", label=_component(r"\lambda", k))
        ax_product.plot(t, lam[:, k] * dz[:, k], color=f"C{k}", lw=0.8, ls="--",
                        label=rf"$\lambda_{k + 1}\,\delta z_{k + 1}$ alone")
    ax_product.plot(t, np.sum(lam * dz, axis=1), color="k", lw=2, label=r"$\lambda(t)\cdot\delta z(t)$")
    ax_product.axhline(dL, color="C3", ls=":", lw=2, label=r"$\delta L$ from two perturbed forward solves")
    ax_dz.set(ylabel=r"$\delta z(t)$", title=r"$\delta z(t)$: a change of $z_0$ along $v = (0.6, 0.8)$, carried forwards")
    ax_lam.set(ylabel=r"$\lambda(t)$", title=r"$\lambda(t)$ from $\lambda(t_1) = \partial L/\partial z(t_1)$, carried backwards")
    ax_product.set(xlabel="$t$", ylabel="product", title=r"$\lambda(t)\cdot\delta z(t)$ is the same at every $t$: "
                                                         r"$\delta L = \lambda(t_0)\cdot\delta z_0$")
    for ax in (ax_dz, ax_lam, ax_product):
        _headroom(ax, 0.4)
        _observation_times(ax, p.ts, names=ax is ax_dz)
        ax.legend(fontsize=7, loc="upper right", ncol=2)
    t0, t1 = p.ts
    _time_arrow(ax_dz, t0 + 0.02 * (t1 - t0), t0 + 0.3 * (t1 - t0), "forwards")
    _time_arrow(ax_lam, t0 + 0.3 * (t1 - t0), t0 + 0.02 * (t1 - t0), "backwards")
    return fig


@figure("dL_dt0_tangents.png", "the sign of dL/dt0 on dz/dt = θ cos(t) z, L = z(t1): L as a function of t0 with "
                               "the tangent of slope −λ(t0)·f (the adjoint's dL/dt0) and the one of slope +λ(t0)·f "
                               "(the comment's formula); right, H(t) = λ·f, with H(t1) = dL/dt1 and H(t0) = −dL/dt0")
def dL_dt0_tangents(quick):
    """L(t0) in closed form for `models.cosine_problem`, the two tangents at t0, and H(t) = λ(t)·f on the grid."""
    p = cosine_problem()
    n_steps = 4 if quick else 20
    (t0, t1), theta = p.ts, p.theta
    ev = _multipliers_on_grid(p, n_steps)
    adjoint_slope = gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps).ts
    comment_slope = lg.comment_dL_dt0(ev.lam, ev.on.f, ev.on.lam_ft, ev.path.t)
    starts = np.linspace(t0 - 0.5, t0 + 0.5, 101)
    fig = _new_figure(11, 4.4)
    ax_L, ax_H = fig.subplots(1, 2)
    ax_L.plot(starts, p.z0 * np.exp(theta * (np.sin(t1) - np.sin(starts))), "k", lw=2,
              label=r"$L(t_0) = z_0\, e^{\theta(\sin t_1 - \sin t_0)}$ (exact)")
    near = np.linspace(t0 - 0.3, t0 + 0.3, 2)
    loss = float(p.loss(integrate(p.f, p.z0, p.theta, p.ts, n_steps)))
    ax_L.plot(near, loss + adjoint_slope[0] * (near - t0), "C2", lw=2,
              label=rf"slope $-\lambda(t_0)\cdot f = {adjoint_slope[0]:.4f}$ (adjoint, eq. T0)")
    ax_L.plot(near, loss + comment_slope * (near - t0), "C3", ls="--", lw=2,
              label=rf"slope $+\lambda(t_0)\cdot f = {comment_slope:.4f}$ (the comment's formula)")
    ax_L.plot([t0], [loss], "o", color="k")
    ax_L.set(xlabel="start time $t_0$ (with $z_0$ fixed)", ylabel="$L = z(t_1)$",
             title=r"moving $t_0$: which tangent touches $L(t_0)$?")
    ax_L.legend(fontsize=8, loc="upper right")
    _headroom(ax_L, 0.3)
    H = np.sum(ev.lam * ev.on.f, axis=-1)
    ax_H.plot(ev.path.t.ravel(), H.ravel(), "C0", lw=2, label=r"$H(t) = \lambda(t)\cdot f(z(t), \theta, t)$")
    ax_H.plot([t1], [adjoint_slope[1]], "s", color="C1", ms=8, label=rf"$dL/dt_1 = {adjoint_slope[1]:.4f}$")
    ax_H.plot([t0], [-adjoint_slope[0]], "D", color="C2", ms=8, label=rf"$-dL/dt_0 = {-adjoint_slope[0]:.4f}$")
    ax_H.set(xlabel="$t$", ylabel="$H(t)$", title=r"the Hamiltonian along the path: $dH/dt = \lambda\,\partial f/\partial t$")
    ax_H.legend(fontsize=8)
    _observation_times(ax_H, p.ts)
    return fig


GridMultiplier = namedtuple("GridMultiplier", ["path", "lam", "on"])
GridMultiplier.__doc__ = """The forward `lagrangian.Path`, the adjoint λ on its grid, and the `Products` along it."""


def _multipliers_on_grid(p, n_steps):
    """The forward path, the adjoint λ (eq. 11) and the products f, λ∂f/∂z, … on the RK4 grid of problem p."""
    path = lg.forward_path(p.f, p.z0, p.theta, p.ts, n_steps)
    zs = lg.at_observation_times(path.z).reshape((len(p.ts),) + np.shape(p.z0))
    lam = lg.eq11_adjoint_multiplier(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), path.t).lam
    return GridMultiplier(path, lam, lg.along_path(lg.jacobians_along(p.f, p.theta, path, np.shape(p.z0)), lam))


@figure("lambda_closed_form.png", "worked example 2, dz/dt = A z with A = [[−1, 2], [0, −1]], L = w·z(t1): the "
                                  "adjoint's λ(t) (dots) on the closed form w e^{A(t1−t)} (lines); forgetting the "
                                  "transpose, dλ/dt = −Aλ, gives the red dashed curves: the first lies on λ₁ (it "
                                  "happens to agree), the second is 0 instead of λ₂, and dL/dz0 is wrong")
def lambda_closed_form(quick):
    """λ(t) of `models.shear_problem` from the adjoint solver against w e^{A(t1−t)}, and the transposed mistake."""
    p = shear_problem()
    solve = backward_solve(p, 4 if quick else 10)
    t0, t1 = p.ts
    t = np.linspace(t0, t1, 101)
    w = grad(p.loss)(integrate(p.f, p.z0, p.theta, p.ts, 2))[-1]
    nilpotent = p.theta + np.eye(2)  # A = −I + M with M² = 0, so e^{As} = e^{−s}(I + sM)
    right = np.array([np.exp(-(t1 - s)) * (w @ (np.eye(2) + (t1 - s) * nilpotent)) for s in t])
    wrong = np.array([np.exp(-(t1 - s)) * ((np.eye(2) + (t1 - s) * nilpotent) @ w) for s in t])
    fig = _new_figure(8, 4.6)
    ax = fig.subplots()
    for k in range(2):
        ax.plot(t, right[:, k], color=f"C{k}", lw=2,
                label=rf"$\lambda_{k + 1}(t)$: $(w\, e^{{A(t_1 - t)}})_{k + 1}$, closed form")
        ax.plot(solve.t, solve.lam[:, k], "o", ms=4, color=f"C{k}", label=rf"$\lambda_{k + 1}(t)$ from the adjoint solver")
        ax.plot(t, wrong[:, k], ls=(0, (3, 3)), color="C3", lw=2.2, zorder=3,
                label=rf"transpose forgotten: $(e^{{A(t_1 - t)}} w^\top)_{k + 1}$"
                      + (" (on $\\lambda_1$)" if k == 0 else " (zero)"))
    for k, (value, where) in enumerate(((right[0], (14, -24)), (wrong[0], (14, 8)))):
        ax.annotate(("" if k == 0 else "wrong ") + rf"$dL/dz_0 = ({value[0]:.4f}, {value[1]:.4f})$",
                    (t0, value[1]), where, textcoords="offset points", fontsize=9, color="C3" if k else "k")
    ax.set(xlabel="$t$", ylabel=r"$\lambda(t)$", title=r"$\dot\lambda = -\lambda A$ (row vector) against "
                                                       r"$\dot\lambda^\top = -A\lambda^\top$ (transpose forgotten)")
    _headroom(ax, 0.5)
    ax.legend(fontsize=7.5, loc="upper right", ncol=2)
    _observation_times(ax, p.ts)
    _time_arrow(ax, t1 - 0.02 * (t1 - t0), t1 - 0.3 * (t1 - t0), "backwards from $\\lambda(t_1) = w$", y=0.62)
    return fig


@figure("discrete_vs_continuous.png", "discretise-then-optimise against optimise-then-discretise on a t-dependent "
                                      "MLP: top left, the discrete adjoint λ_k = dL/dz_k and the continuous λ(t_k) at "
                                      "4 steps, on the fine-step λ(t); bottom left, their difference, zero at t1 and "
                                      "growing backwards, at 4 steps and, times 16 = 2⁴, at 8 steps; right, the gap in "
                                      "dL/dz0 and dL/dθ falls like h⁴")
def discrete_vs_continuous(quick):
    """λ_k of the discrete adjoint of RK4 and λ(t) of the continuous adjoint (eq. 11), their difference at two
    steps, and the gap in the gradients against h."""
    p = default_problem(batch=0, n_times=2, t1=4.0)
    coarse, steps = 4, (np.array([2, 4, 8]) if quick else 2 ** np.arange(1, 7))
    fine = backward_solve(p, 16 if quick else 200)
    fig = _new_figure(11, 6.4)
    axes = fig.subplot_mosaic([["lam", "gap"], ["diff", "gap"]], height_ratios=[1.2, 1])
    ax_lam, ax_diff, ax_gap = axes["lam"], axes["diff"], axes["gap"]
    t_k, discrete, continuous = grid_multipliers(p, coarse)
    for k in range(2):
        ax_lam.plot(fine.t, fine.lam[:, k], color=f"C{k}", lw=1, label=_component(r"\lambda", k) + ", fine steps")
        ax_lam.plot(t_k, discrete[:, k], "s", mfc="none", ms=9, color=f"C{k}", label=rf"discrete $(\lambda_k)_{k + 1}$")
        ax_lam.plot(t_k, continuous[:, k], "o", ms=4, color=f"C{k}", label=rf"continuous $\lambda_{k + 1}(t_k)$")
    ax_lam.set(ylabel=r"$\lambda$", title=f"the two adjoints at {coarse} steps, $h = {(p.ts[1] - p.ts[0]) / coarse:g}$")
    ax_lam.legend(fontsize=7, ncol=3, loc="best")
    _observation_times(ax_lam, p.ts)
    for n, scale, marker in ((coarse, 1, "s-"), (2 * coarse, 16, "o--")):
        t_n, d, c = grid_multipliers(p, n)
        for k in range(2):
            ax_diff.plot(t_n, scale * (d[:, k] - c[:, k]), marker, color=f"C{k}", mfc="none", ms=5,
                         label=rf"$(\lambda_k - \lambda(t_k))_{k + 1}$, {n} steps" + ("" if scale == 1 else r" $\times 16$"))
    ax_diff.axhline(0.0, color="0.6", lw=0.8)
    ax_diff.set(xlabel="$t$", ylabel=r"$\lambda_k - \lambda(t_k)$", title=r"their difference (at 8 steps times $16 = 2^4$)")
    ax_diff.legend(fontsize=7, ncol=2)
    gaps = {"z0": [], "theta": []}
    for n in steps:
        d, c = (gradients(p.loss, p.f, p.z0, p.theta, p.ts, int(n), method) for method in ("discrete_adjoint", "adjoint"))
        for name in gaps:
            gaps[name].append(relative_difference(getattr(d, name), getattr(c, name)))
    for name, marker, label in (("z0", "o", r"$dL/dz_0$: $\lambda_0$ against $\lambda(t_0)$"),
                                ("theta", "s", r"$dL/d\theta$")):
        ax_gap.loglog(steps, gaps[name], marker + "-", mfc="none", label=label)
    _order_4_axes(ax_gap, steps, gaps["z0"][0], "relative gap, discrete vs continuous adjoint",
                  "the gap closes at order 4 as $h$ shrinks")
    return fig


def _order_4_axes(ax, steps, first, ylabel, title):
    """A log–log panel against RK4 steps on one interval: the slope −4 guide through 2·first at steps[0],
    the labels, one tick per step count, the legend and the grid."""
    ax.loglog(steps, 2 * first * (steps / steps[0]) ** -4.0, "--", color="0.5", label=r"slope $-4$: $\propto h^4$")
    ax.set(xlabel="RK4 steps on $[t_0, t_1]$", ylabel=ylabel, title=title)
    ax.set_xticks(steps, [str(n) for n in steps])
    ax.set_xticks([], minor=True)
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)


def grid_multipliers(p, n_steps):
    """(t_k, λ_k, λ(t_k)) on the RK4 grid of the one-interval problem p: the discrete adjoint's multipliers
    (`discrete_adjoint.step_multipliers`) and the continuous adjoint's λ (eq. 11) at the same times."""
    (t0, t1) = p.ts
    states = da.one_step_states(rk4_step, p.f, p.z0, p.theta, t0, t1, n_steps)
    zs = np.array([states[0], states[-1]])
    dL_dzs = grad(p.loss)(zs)
    grid = np.linspace(t0, t1, n_steps + 1)
    discrete = np.array(da.step_multipliers(rk4_step, p.f, states, p.theta, t0, t1, dL_dzs[-1]))
    continuous = lg.eq11_adjoint_multiplier(p.f, zs, p.theta, p.ts, n_steps, dL_dzs, grid[None]).lam[0]
    return grid, discrete, continuous


Pairings = namedtuple("Pairings", ["t", "discrete", "continuous"])
Pairings.__doc__ = """Grid times t_k and λ·δz there: with the discrete multipliers λ_k and with the continuous λ(t_k)."""


def pairings_on_grid(p, n_steps, v=(0.6, 0.8)):
    """λ_k·δz_k (discrete adjoint of RK4) and λ(t_k)·δz_k (continuous adjoint, eq. 11) on the RK4 grid of the
    one-interval problem p, δz_k the perturbation δz_0 = v carried forwards by the steps."""
    (t0, t1) = p.ts
    states = da.one_step_states(rk4_step, p.f, p.z0, p.theta, t0, t1, n_steps)
    tangents = da.step_tangents(rk4_step, p.f, states, p.theta, t0, t1, np.asarray(v, dtype=float))
    grid, discrete, continuous = grid_multipliers(p, n_steps)
    return Pairings(grid, da.pairings(discrete, tangents), da.pairings(continuous, tangents))


@figure("adjoint_conservation.png", "λ·δz along the path on a t-dependent MLP: the discrete adjoint of RK4 keeps "
                                    "λ_k·δz_k equal to δL at every step to round-off (Sanz-Serna), the continuous "
                                    "adjoint's λ(t_k)·δz_k drifts from it by O(h⁴)")
def adjoint_conservation(quick):
    """|λ·δz − δL| / |δL| against t for both adjoints at a coarse step, and its largest value against n_steps."""
    p = default_problem(batch=0, n_times=2, t1=4.0)
    steps = np.array([4, 8, 16] if quick else [4, 8, 16, 32, 64, 128])
    fig = _new_figure(11, 4.6)
    ax_t, ax_n = fig.subplots(1, 2)
    for n, color in zip(steps[1:3], ("C0", "C1")):
        run = pairings_on_grid(p, int(n))
        delta_L = run.discrete[0]
        ax_t.semilogy(run.t, np.maximum(np.abs(run.continuous - delta_L) / abs(delta_L), FLOOR), "o-", color=color,
                      label=rf"continuous $\lambda(t_k)\cdot\delta z_k$, {n} steps")
        ax_t.semilogy(run.t, np.maximum(np.abs(run.discrete - delta_L) / abs(delta_L), FLOOR), "s--", mfc="none",
                      color=color, label=rf"discrete $\lambda_k\cdot\delta z_k$, {n} steps")
    ax_t.set(xlabel="$t$", ylabel=r"$|\lambda\cdot\delta z - \delta L| \,/\, |\delta L|$",
             title=f"along the path (values below {FLOOR:g} drawn at {FLOOR:g})")
    ax_t.legend(fontsize=7)
    worst = {"discrete": [], "continuous": []}
    for n in steps:
        run = pairings_on_grid(p, int(n))
        for name in worst:
            worst[name].append(np.max(np.abs(getattr(run, name) - run.discrete[0])) / abs(run.discrete[0]))
    ax_n.loglog(steps, worst["continuous"], "o-", label=r"continuous adjoint: $\max_k$")
    ax_n.loglog(steps, np.maximum(worst["discrete"], FLOOR), "s--", mfc="none", label=r"discrete adjoint: $\max_k$")
    _order_4_axes(ax_n, steps, worst["continuous"][0], r"largest relative departure from $\delta L$",
                  "the continuous adjoint conserves it only to $O(h^4)$")
    ax_t.grid(True, which="major", alpha=0.3)
    return fig


@figure("dopri5_tolerance.png",
        "solver=\"dopri5\": left, the gradient error follows rtol for the adaptive adjoint (with or without the "
        "seminorm) and for backprop through the accepted steps, and so does the gap between adjoint and "
        "backprop (grey dots); right, the f evaluations per gradient grow slowly as rtol tightens")
def dopri5_tolerance(quick):
    """Relative error of (dL/dz0, dL/dθ, dL/dts) against rtol (= atol) for dopri5 (left), and the f evaluations
    (right): one log–log quantity per panel."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    p = default_problem(hidden=4 if quick else 16, t1=4.0)
    rtols = np.array([1e-3, 1e-6] if quick else [10.0 ** -k for k in range(3, 11)])
    n_reference = 50 if quick else 1000
    reference = gradient_vector(gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_reference, "discrete_adjoint"))
    rows = measure_adaptive(p, rtols, reference)
    by_label = {label: [row for row in rows if row.label == label] for label in ADAPTIVE_LABELS}
    fig = _new_figure(11, 4.8)
    ax, ax_evals = fig.subplots(1, 2)
    for (label, mine), marker, color in zip(by_label.items(), "o^s", ("C0", "C1", "C2")):
        total = [row.forward["f_evals"] + (row.backward or {"f_evals": 0})["f_evals"] for row in mine]
        ax.loglog(rtols, [row.error for row in mine], marker + "-", color=color, label=label)
        ax_evals.loglog(rtols, total, marker + "-", color=color, mfc="none", label=label)
    gap = [relative_difference(a.gradient, b.gradient) for a, b in zip(by_label["adjoint"], by_label["backprop"])]
    ax.loglog(rtols, gap, ".", ms=9, color="0.35", zorder=3, label="adjoint vs backprop: relative difference")
    ax.loglog(rtols, rtols, "--", color="0.6", label="error = rtol")
    ax.set(xlabel="rtol = atol (tighter →)", ylabel="relative error of (dL/dz0, dL/dθ, dL/dts)",
           title=f"error against the RK4 discrete adjoint at {n_reference} steps per interval")
    ax_evals.set(xlabel="rtol = atol (tighter →)", ylabel="f evaluations per gradient",
                 title="work: forward + backward (backprop: forward only)")
    ax_evals.yaxis.set_major_locator(FixedLocator([20, 50, 100, 200, 500, 1000, 2000]))
    ax_evals.yaxis.set_major_formatter(ScalarFormatter())
    ax_evals.yaxis.set_minor_locator(NullLocator())
    for axis in (ax, ax_evals):
        axis.invert_xaxis()
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle("default MLP problem on [0, 4], 5 observation times, solver=\"dopri5\"", fontsize=11)
    return fig


PARETO_MARKERS = dict(zip(compare.WAYS, "osD^vPX"))
NO_DIGIT = 1.0  # gradient_pareto.png draws errors of 1 and more (no correct digit) at this value


def _failures(rows, problem):
    """'fails: …; no correct digit: …' naming the ways that failed on `problem`, or at some setting gave
    no correct digit (drawn in the grey band, where their points may hide one another)."""
    mine = [row for row in rows if row.problem == problem]
    failed = [way for way in compare.WAYS if any(r.way == way and r.seconds is None for r in mine)]
    wrong = [way for way in compare.WAYS if any(r.way == way and r.note == "no correct digit" for r in mine)]
    parts = [f"{what}: {', '.join(ways)}" for what, ways in (("fails", failed), ("no correct digit", wrong)) if ways]
    return "\n".join(textwrap.fill(part, 48) for part in parts) or "every way converges"


@figure("gradient_pareto.png",
        "Every way to the gradient on the zoo's mlp, lorenz and contracting problems: relative error against the "
        "exact gradient versus CPU time (top) and peak memory (bottom), one point per setting, as measured by "
        "`adjoint-ref bench --compare`; down and to the left is better")
def gradient_pareto(quick):
    """Error against time and against peak memory, per problem and way, from `compare.measure`."""
    from matplotlib.ticker import NullFormatter

    rows = [row for row in compare.measure(quick) if row.seconds is not None]
    fig = _new_figure(13, 8)
    axes = fig.subplots(2, len(compare.PROBLEMS), squeeze=False)
    for column, problem in enumerate(compare.PROBLEMS):
        for colour, way in enumerate(compare.WAYS):  # a way keeps its colour where another has no points
            mine = [row for row in rows if row.problem == problem and row.way == way]
            if not mine:
                continue
            errors = np.minimum([row.error for row in mine], NO_DIGIT)
            for ax, x in ((axes[0, column], [row.seconds * 1e3 for row in mine]),
                          (axes[1, column], [row.peak_bytes / 1024 for row in mine])):
                ax.loglog(x, errors, marker=PARETO_MARKERS[way], mfc="none", color=f"C{colour}", label=way)
        axes[0, column].set_title(f"{problem}\n{_failures(compare.measure(quick), problem)}", fontsize=10)
        axes[0, column].set_xlabel("CPU ms per gradient")
        axes[1, column].set_xlabel("peak memory, KiB (tracemalloc)")
        for ax in axes[:, column]:
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.axhspan(NO_DIGIT, 3 * NO_DIGIT, color="0.85", zorder=0)
            ax.set_ylim(top=3 * NO_DIGIT)
            ax.grid(True, which="major", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("relative error of the gradient\n(grey band: no correct digit)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    return fig
