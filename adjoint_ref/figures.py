"""The figure gallery: `adjoint-ref figures` regenerates every PNG in figures/.

A figure is one function `draw(quick) -> matplotlib.figure.Figure`, registered with
`@figure("name.png", "caption")`. `quick=True` asks for the cheapest settings that still draw every
element (used by the tests). Draw functions build `Figure()` objects directly, never through pyplot,
so no global matplotlib state (backend, current figure) is touched; PNGs are written by Agg with the
default style and fixed metadata, so the same code gives the same image.
"""
import contextlib
import os
import time
import warnings

import numpy as np
from autograd import grad

from . import equations, lagrangian as lg
from .adjoint import AdjointDriftWarning, adjoint_gradients
from .api import gradients, odeint
from .bench import measure
from .metrics import relative_difference
from .models import autonomous_mlp_dynamics, contracting_problem, default_problem
from .rk4 import integrate, step_states
from .train import fit
from .tree import ravel_tree

FIGURES = {}  # file name → (caption, draw)


def figure(name, caption):
    """Register `draw(quick)` as the figure `name` (a .png file name) with a one-line caption."""
    def register(draw):
        FIGURES[name] = (caption, draw)
        return draw
    return register


def render(names=None, out="figures", quick=False, log=print):
    """Draw the named figures (all by default) into the folder `out`; return the paths written."""
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"names: unknown figure(s) {unknown}; known: {sorted(FIGURES)}")
    os.makedirs(out, exist_ok=True)
    paths = []
    for name in names:
        start = time.perf_counter()
        path = os.path.join(out, name)
        draw_and_save(lambda: FIGURES[name][1](quick), path)
        paths.append(path)
        log(f"wrote {path} ({time.perf_counter() - start:.1f} s)")
    return paths


@contextlib.contextmanager
def _gallery_style():
    import matplotlib

    # The defaults without "backend": putting back its automatic-choice placeholder makes matplotlib
    # choose a backend for good (importing pyplot), a global change that outlives rc_context.
    defaults = {key: value for key, value in matplotlib.rcParamsDefault.items() if key != "backend"}
    with matplotlib.rc_context(defaults), matplotlib.rc_context({"savefig.dpi": 100}):
        yield


def draw_and_save(draw, path):
    """Call draw() under matplotlib's default style and write its Figure to `path` (PNG, 100 dpi)."""
    with _gallery_style():
        draw().savefig(path, metadata={"Software": None})


def _new_figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def draw_fit(result):
    """A training run (train.Fit): z(t) observed and learned, the phase portrait, the learned field, the losses."""
    data, theta = result.data, result.theta
    learned = odeint(autonomous_mlp_dynamics, data.observed[0], theta, data.ts, result.n_steps)
    fig = _new_figure(10, 7.5)
    (ax_t, ax_phase), (ax_field, ax_loss) = fig.subplots(2, 2)
    for k, name in enumerate(("z₁ (angle)", "z₂ (angular velocity)")):
        ax_t.plot(data.ts, data.observed[:, k], ".", ms=3, color=f"C{k}", alpha=0.4, label=f"observed {name}")
        ax_t.plot(data.ts, learned[:, k], "-", color=f"C{k}", label=f"learned {name}")
    ax_t.set(xlabel="t", ylabel="z(t)", title="observations and the learned solution from z(t₀)")
    ax_t.legend(fontsize=7)
    for ax in (ax_phase, ax_field):
        ax.plot(data.observed[:, 0], data.observed[:, 1], ".", ms=3, color="0.5", label="observed")
        ax.plot(learned[:, 0], learned[:, 1], "-", color="C3", label="learned")
        ax.set(xlabel="z₁", ylabel="z₂")
    ax_phase.set_title("phase portrait")
    ax_phase.legend(fontsize=7)
    _draw_field(ax_field, autonomous_mlp_dynamics, theta, data.observed)
    ax_field.set_title("learned vector field f(z, θ)")
    ax_loss.semilogy(np.arange(len(result.history)), result.history, lw=0.7, label="window loss (each iteration)")
    iters, losses = zip(*result.checkpoints)
    ax_loss.semilogy(iters, losses, "o-", color="C3", label="loss over all observed points")
    ax_loss.set(xlabel="Adam iteration", ylabel="L (mean squared error)", title="training loss")
    ax_loss.legend(fontsize=7)
    return fig


def _draw_field(ax, f, theta, points, n=17):
    """Arrows of f(z, θ, 0) on an n × n grid spanning `points` (with a margin)."""
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.15 * (high - low)
    z1, z2 = np.meshgrid(*(np.linspace(a, b, n) for a, b in zip(low - margin, high + margin)))
    dz = f(np.stack([z1.ravel(), z2.ravel()], axis=1), theta, 0.0)
    ax.quiver(z1, z2, dz[:, 0].reshape(z1.shape), dz[:, 1].reshape(z1.shape), np.hypot(dz[:, 0], dz[:, 1]),
              cmap="viridis", angles="xy", width=0.004)
    ax.set(xlim=(z1[0, 0], z1[0, -1]), ylim=(z2[0, 0], z2[-1, 0]))


@figure("spiral_fit.png", "the default `adjoint-ref train` run: the learned solution (lines) follows the "
                          "observed spiral (dots), and the loss over all points falls by orders of magnitude")
def spiral_fit(quick):
    """The result of `adjoint-ref train` with its default options (quick: a few tiny iterations)."""
    return draw_fit(fit(iters=4, hidden=4, batch=3, every=2) if quick else fit())


@figure("adjoint_trajectories.png", "one backward solve: z(t) re-integrated backwards lies on the forward z(t), "
                                    "λ(t) jumps by ∂L/∂z(tᵢ) at each observation time, and ‖a_θ(t)‖ grows to "
                                    "‖dL/dθ‖, matching backprop (star)")
def adjoint_trajectories(quick):
    """The recorded backward solve (eqs. 11–12) of the default problem with one state in 2-D."""
    p = default_problem(hidden=16, batch=0, t1=4.0)
    n_steps = 3 if quick else 20
    forward = [(p.ts[0], p.z0)]
    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps, record=forward)
    backward = []
    adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), record=backward)
    backprop = gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, "backprop").theta
    t_fwd, z_fwd = np.array([r[0] for r in forward]), np.array([r[1] for r in forward])
    t_bwd = np.array([r[0] for r in backward])
    z_bwd, lam = np.array([r[1] for r in backward]), np.array([r[2] for r in backward])
    a_theta = np.array([np.linalg.norm(r[3]) for r in backward])

    fig = _new_figure(8, 8)
    ax_z, ax_lam, ax_a = fig.subplots(3, 1, sharex=True)
    for k in range(2):
        ax_z.plot(t_fwd, z_fwd[:, k], "-", color=f"C{k}", label=f"z{'₁₂'[k]}(t) forward")
        ax_z.plot(t_bwd, z_bwd[:, k], "o", ms=3, mfc="none", color=f"C{k}", label=f"z{'₁₂'[k]}(t) backward")
        ax_lam.plot(t_bwd, lam[:, k], "-", color=f"C{k}", label=f"λ{'₁₂'[k]}(t)")
    ax_z.set(ylabel="z(t)", title="forward solve (lines) and the backward re-integration of z (circles)")
    ax_lam.set(ylabel="λ(t)", title=r"adjoint λ(t), eq. (11), solved from $t_N$ back to $t_0$")
    ax_a.plot(t_bwd, a_theta, "-", color="C2",
              label=r"$\|a_\theta(t)\| = \|\int_t^{t_N} \lambda\, \partial f/\partial\theta\, dt'\|$ (eq. 12)")
    ax_a.plot([p.ts[0]], [np.linalg.norm(ravel_tree(backprop))], "*", ms=12, color="C3", label="‖dL/dθ‖ by backprop")
    ax_a.set(xlabel="t", ylabel="‖a_θ(t)‖", title="the running ‖dL/dθ‖ accumulated during the backward solve")
    for ax in (ax_z, ax_lam, ax_a):
        for t in p.ts:
            ax.axvline(t, color="0.8", lw=0.8, zorder=0)
        ax.legend(fontsize=7, loc="best")
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
    ax.loglog(steps, guide, "--", color="0.5", label="slope −4 guide, ∝ n_steps⁻⁴ ∝ h⁴")
    n_fd = 4
    floor = relative_difference(dL_dtheta(n_fd, "backprop"), dL_dtheta(n_fd, "finite_differences"))
    ax.axhline(floor, color="C3", ls=":", label=f"finite-difference floor: backprop vs FD at n_steps={n_fd}")
    ax.set(xlabel="n_steps (RK4 steps per observation interval)", ylabel="relative error of dL/dθ",
           title=f"convergence to the fine-grid gradient (backprop, n_steps={n_reference})")
    ax.legend(fontsize=7)
    return fig


@figure("lagrangian_terms.png", "Eq. (10): the sizes of its three terms for an arbitrary λ and for the adjoint λ")
def draw_lagrangian_terms(quick):
    """Bars of ‖term 1‖, ‖term 2‖, ‖term 3‖ of eq. (10) and ‖sum − dL/dθ‖, on a log scale, for both λ."""
    from matplotlib.figure import Figure

    problem = default_problem(hidden=4 if quick else 16)
    ev = equations.evaluate(problem, 4 if quick else 10, log=lambda text: None)
    dL_dtheta = ravel_tree(ev.reference["backprop"].theta)
    fig = Figure(figsize=(9, 3.8))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, name, lam, on in zip(axes, ("arbitrary λ (random sines)", "adjoint λ, eq. (11)"),
                                 (ev.arbitrary, ev.adjoint), (ev.on_arbitrary, ev.on_adjoint)):
        terms = lg.eq10_terms(ev.dL_dzs, lam.lam, lam.lam_dot, ev.path.S, on.lam_fz, on.lam_ftheta, ev.path.t)
        sizes = [np.linalg.norm(term) for term in terms] + [np.linalg.norm(sum(terms) - dL_dtheta)]
        bars = ax.bar(["term 1\nbracket", "term 2\n∫(λ̇+λ∂f/∂z)dz/dθ", "term 3\n∫λ∂f/∂θ", "‖sum − dL/dθ‖"],
                      np.maximum(sizes, 1e-17), color=["C0", "C1", "C2", "0.5"])
        ax.bar_label(bars, [f"{s:.1e}" for s in sizes], fontsize=8)
        ax.axhline(np.linalg.norm(dL_dtheta), color="k", linestyle="--", linewidth=1, label="‖dL/dθ‖ (backprop)")
        ax.set_yscale("log")
        ax.set_ylim(1e-16, 1e4)
        ax.set_title(name)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].set_ylabel("norm")
    axes[1].legend(loc="upper right", fontsize=8)
    fig.suptitle("The three terms of eq. (10) always add up to dL/dθ; the adjoint λ leaves only term 3")
    fig.tight_layout()
    return fig


FLOOR = 1e-17  # reconstruction_error.png draws smaller gaps (zero at the checkpoints) at this value


@figure("reconstruction_error.png",
        "How far the z used by the backward pass is from the forward pass's z, on a strongly contracting "
        "linear flow: integrating z backwards (plain adjoint) against re-integrating it from checkpoints")
def reconstruction_error(quick):
    """‖z_backward(t) − z_forward(t)‖ against t for the plain and the checkpointed adjoint."""
    from matplotlib.figure import Figure

    p = contracting_problem()
    (t0, t1), n_steps = p.ts, 50 if quick else 200
    forward = step_states(p.f, p.z0, p.theta, t0, t1, n_steps)
    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for checkpoints, label in ((None, "plain adjoint: z integrated backwards"),
                               (4, "checkpointed adjoint (K = 4): z re-integrated forwards")):
        record = []
        with warnings.catch_warnings():  # the plain adjoint's drift is what this figure shows
            warnings.simplefilter("ignore", AdjointDriftWarning)
            adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), record=record,
                              checkpoints=checkpoints)
        used = {}  # step index → the z the backward pass integrated with (not λ's jump entries)
        for t, z, *_ in record:
            used.setdefault(int(round((t - t0) / (t1 - t0) * n_steps)), z)
        steps = sorted(used)
        gaps = [np.linalg.norm(used[k] - forward[k]) for k in steps]
        ax.semilogy(t0 + (t1 - t0) * np.array(steps) / n_steps, np.maximum(gaps, FLOOR), marker=".", label=label)
    ax.set_xlabel("t")
    ax.set_ylabel("‖z_backward(t) − z_forward(t)‖")
    ax.set_title(f"dz/dt = A z, eigenvalues −1 and −50, {n_steps} RK4 steps (< {FLOOR:g} drawn at {FLOOR:g})", fontsize=10)
    ax.legend(loc="upper right", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return fig


@figure("memory_vs_steps.png",
        "Peak Python memory (tracemalloc) of one gradient against the number of RK4 steps, per method, "
        "as measured by `adjoint-ref bench`")
def memory_vs_steps(quick):
    """Log–log peak memory against steps for every method `bench` measured."""
    from matplotlib.figure import Figure

    rows = [row for row in measure(quick) if row.seconds is not None]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for method in dict.fromkeys(row.method for row in rows):
        steps, peaks = zip(*[(row.n_steps, row.peak_bytes / 1024) for row in rows if row.method == method])
        ax.loglog(steps, peaks, marker="o",
                  label="checkpointed adjoint, K = ⌈√steps⌉" if method == "checkpointed" else method)
    ax.set_xlabel("RK4 steps")
    ax.set_ylabel("peak memory during one gradient (KiB)")
    ax.set_title("default MLP problem on [0, 1]")
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    return fig
