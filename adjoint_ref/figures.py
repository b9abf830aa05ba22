"""The figure gallery: `adjoint-ref figures` regenerates every PNG in figures/.

A figure is one function `draw(quick) -> matplotlib.figure.Figure`, registered with
`@figure("name.png", "caption")`. `quick=True` asks for the cheapest settings that still draw every
element (used by the tests). Draw functions build `Figure()` objects directly, never through pyplot,
so no global matplotlib state (backend, current figure) is touched; PNGs are written by Agg with the
default style and fixed metadata, so the same code gives the same image.
"""
import os
import time

import numpy as np

FIGURES = {}  # file name → (caption, draw)


def figure(name, caption):
    """Register `draw(quick)` as the figure `name` (a .png file name) with a one-line caption."""
    def register(draw):
        FIGURES[name] = (caption, draw)
        return draw
    return register


def render(names=None, out="figures", quick=False, log=print):
    """Draw the named figures (all by default) into the folder `out`; return the paths written."""
    import matplotlib

    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"names: unknown figure(s) {unknown}; known: {sorted(FIGURES)}")
    os.makedirs(out, exist_ok=True)
    paths = []
    with matplotlib.rc_context(matplotlib.rcParamsDefault), matplotlib.rc_context({"savefig.dpi": 100}):
        for name in names:
            start = time.perf_counter()
            fig = FIGURES[name][1](quick)
            path = os.path.join(out, name)
            fig.savefig(path, metadata={"Software": None})
            paths.append(path)
            log(f"wrote {path} ({time.perf_counter() - start:.1f} s)")
    return paths


FLOOR = 1e-17  # reconstruction_error.png draws smaller gaps (zero at the checkpoints) at this value


@figure("reconstruction_error.png",
        "How far the z used by the backward pass is from the forward pass's z, on a strongly contracting "
        "linear flow: integrating z backwards (plain adjoint) against re-integrating it from checkpoints")
def reconstruction_error(quick):
    """‖z_backward(t) − z_forward(t)‖ against t for the plain and the checkpointed adjoint."""
    from autograd import grad
    from matplotlib.figure import Figure

    from .adjoint import adjoint_gradients
    from .models import contracting_problem
    from .rk4 import integrate, step_states

    p = contracting_problem()
    (t0, t1), n_steps = p.ts, 50 if quick else 200
    forward = step_states(p.f, p.z0, p.theta, t0, t1, n_steps)
    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for checkpoints, label in ((None, "plain adjoint: z integrated backwards"),
                               (4, "checkpointed adjoint (K = 4): z re-integrated forwards")):
        record = []
        adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), record=record, checkpoints=checkpoints)
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

    from .bench import measure

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
