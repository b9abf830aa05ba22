"""The figure gallery: `adjoint-ref figures` regenerates every PNG in figures/.

A figure is one function `draw(quick) -> matplotlib.figure.Figure`, registered with
`@figure("name.png", "caption")`. `quick=True` asks for the cheapest settings that still draw every
element (used by the tests). Draw functions build `Figure()` objects directly, never through pyplot,
so no global matplotlib state (backend, current figure) is touched; PNGs are written by Agg with the
default style and fixed metadata, so the same code gives the same image.
"""
import os
import time

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
    # The defaults without "backend": putting back its automatic-choice placeholder makes matplotlib
    # choose a backend for good (importing pyplot), a global change that outlives rc_context.
    defaults = {key: value for key, value in matplotlib.rcParamsDefault.items() if key != "backend"}
    with matplotlib.rc_context(defaults), matplotlib.rc_context({"savefig.dpi": 100}):
        for name in names:
            start = time.perf_counter()
            fig = FIGURES[name][1](quick)
            path = os.path.join(out, name)
            fig.savefig(path, metadata={"Software": None})
            paths.append(path)
            log(f"wrote {path} ({time.perf_counter() - start:.1f} s)")
    return paths


@figure("lagrangian_terms.png", "Eq. (10): the sizes of its three terms for an arbitrary λ and for the adjoint λ")
def draw_lagrangian_terms(quick):
    """Bars of ‖term 1‖, ‖term 2‖, ‖term 3‖ of eq. (10) and ‖sum − dL/dθ‖, on a log scale, for both λ."""
    import numpy as np
    from matplotlib.figure import Figure

    from . import equations, lagrangian as lg
    from ._checks import ravel_tree
    from .models import default_problem

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
