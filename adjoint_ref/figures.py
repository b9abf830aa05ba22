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
