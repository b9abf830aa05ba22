"""No global state: numpy's error settings, numpy's global random state and matplotlib's settings
are left exactly as found by odeint, gradients, `adjoint-ref check` and figures.render, also when
a call fails. Each test starts from non-default settings, so a reset to the defaults is caught too.
"""
import autograd.numpy as anp
import matplotlib
import numpy as np
import pytest
from autograd import grad
from matplotlib.figure import Figure

from adjoint_ref.cli import figures
from adjoint_ref.cli import main
from calls import call_gradients, call_odeint


def global_state():
    """numpy's error settings and random state, and matplotlib's rcParams (backend included), read
    without side effects (dict.items skips the lookup that would resolve an automatic backend)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return np.geterr(), (kind, keys.tobytes(), pos, has_gauss, gauss), dict(dict.items(matplotlib.rcParams))


@pytest.fixture
def unusual_settings():
    """Non-default numpy error settings, a seeded global random state and a changed rcParam."""
    with np.errstate(divide="ignore", over="warn", under="warn", invalid="ignore"), \
            matplotlib.rc_context({"lines.linewidth": 3.25}):
        np.random.seed(20240601)
        yield


def draw_test_figure(quick):
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def render_test_figure(tmp_path):
    figures.FIGURES["state_test.png"] = ("a line, drawn by the state test", draw_test_figure)
    try:
        figures.render(["state_test.png"], out=str(tmp_path), log=lambda line: None)
    finally:
        del figures.FIGURES["state_test.png"]


CALLS = {
    "odeint adjoint": lambda tmp_path: call_odeint(),
    "odeint backprop": lambda tmp_path: call_odeint(gradient="backprop"),
    "grad through odeint": lambda tmp_path: grad(lambda th: anp.sum(call_odeint(theta=th)))(0.5),
    "gradients adjoint": lambda tmp_path: call_gradients(),
    "gradients backprop": lambda tmp_path: call_gradients(method="backprop"),
    "gradients finite_differences": lambda tmp_path: call_gradients(method="finite_differences"),
    "cli check": lambda tmp_path: main(["check", "--steps", "2", "--repeat", "1", "--hidden", "2"]),
    "figures.render": render_test_figure,
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_calls_leave_global_state_as_found(call, unusual_settings, tmp_path, capsys):
    before = global_state()
    call(tmp_path)
    assert global_state() == before


@pytest.mark.parametrize("method", ["adjoint", "backprop"])
def test_failing_calls_leave_global_state_as_found(method, unusual_settings):
    # The forward overflow raises from inside the solver's np.errstate block (test_errors.py).
    before = global_state()
    with pytest.raises(FloatingPointError):
        call_gradients(f=lambda z, th, t: z ** 2 * 1e100, ts=[0.0, 0.9], n_steps=50, method=method)
    assert global_state() == before
