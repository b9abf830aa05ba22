"""Users coming from torchdiffeq, diffrax or jax.experimental.ode: their keyword arguments get an
error naming the equivalent here, and n_steps (RK4 steps per observation interval) cannot go unnoticed."""
import warnings

import autograd.numpy as anp
import numpy as np
import pytest

import adjoint_ref as ar


def f(z, theta, t):
    return -theta * z


Z0, THETA, TS = np.array([1.0, 2.0]), np.array(0.5), np.linspace(0.0, 1.0, 3)


def loss(zs):
    return anp.sum(zs[-1] ** 2)


@pytest.mark.parametrize("call", [lambda **kw: ar.odeint(f, Z0, THETA, TS, **kw),
                                  lambda **kw: ar.gradients(loss, f, Z0, THETA, TS, **kw)])
@pytest.mark.parametrize("keyword, value, says", [
    ("options", {"step_size": 0.1}, ["'options'", "n_steps", "step_size=h"]),
    ("adjoint_params", (), ["θ is explicit: odeint(f, z0, theta, ts)"]),
    ("dt0", 0.1, ["diffrax", "n_steps"]),
    ("adjoint", None, ["BacksolveAdjoint", "method='adjoint'", "checkpoints=K"]),
    ("foo", 1, ["unexpected keyword argument 'foo'"]),
])
def test_other_libraries_keywords_name_the_equivalent(call, keyword, value, says):
    with pytest.raises(TypeError) as info:
        call(**{keyword: value})
    assert all(text in str(info.value) for text in says), str(info.value)


def test_step_size_takes_the_ceiling_of_each_interval_over_h_and_not_with_n_steps():
    # torchdiffeq's options=dict(step_size=h) is step_size=h here: ⌈0.5 / 0.1⌉ = 5 steps on each half of [0, 1]
    assert np.array_equal(ar.odeint(f, Z0, THETA, TS, step_size=0.1), ar.odeint(f, Z0, THETA, TS, n_steps=5))
    assert np.array_equal(ar.odeint(f, Z0, THETA, TS, step_size=0.12), ar.odeint(f, Z0, THETA, TS, n_steps=5))
    assert not np.array_equal(ar.odeint(f, Z0, THETA, TS, step_size=0.099), ar.odeint(f, Z0, THETA, TS, n_steps=5))
    ts = np.array([0.0, 0.1 + 0.2])  # (0.1 + 0.2) / 0.1 = 3.0000000000000004 in floats: 3 steps, not 4
    assert np.array_equal(ar.odeint(f, Z0, THETA, ts, step_size=0.1), ar.odeint(f, Z0, THETA, ts, n_steps=3))
    with pytest.raises(ValueError, match="give n_steps .* or step_size .*, not both"):
        ar.gradients(loss, f, Z0, THETA, TS, n_steps=5, step_size=0.1)
    with pytest.raises(ValueError, match="step_size must be a positive, finite number, got -0.1"):
        ar.odeint(f, Z0, THETA, TS, step_size=-0.1)


@pytest.mark.parametrize("keyword", ["rtol", "atol"])
def test_tolerances_belong_to_the_adaptive_solver(keyword):
    # rtol and atol are real arguments, for solver="dopri5"; with the default RK4 they point at n_steps
    with pytest.raises(ValueError, match=f"{keyword} applies to solver='dopri5' only; solver='rk4' takes n_steps"):
        ar.gradients(loss, f, Z0, THETA, TS, **{keyword: 1e-6})


@pytest.mark.parametrize("solver", ["rk4", "dopri5", "Tsit5", "euler"])
def test_a_solver_name_as_method(solver):
    with pytest.raises(TypeError, match="gradient='adjoint' or 'backprop'"):
        ar.odeint(f, Z0, THETA, TS, method=solver)
    with pytest.raises(ValueError) as info:
        ar.gradients(loss, f, Z0, THETA, TS, method=solver)
    assert "names an ODE solver" in str(info.value) and "n_steps" in str(info.value) and "solver=" in str(info.value)
    assert "'discrete_adjoint'" in str(info.value)  # the methods it does take


def test_a_dense_grid_with_the_default_steps_warns_once_and_names_the_total():
    ts = np.linspace(0.0, 1.0, 100)
    with pytest.warns(ar.DenseGridWarning, match="per observation interval: its default 20 on the 99 intervals "
                                                 "of ts makes 1980 steps") as caught:
        ar.odeint(f, Z0, THETA, ts)
    assert len(caught) == 1 and caught[0].filename == __file__  # it points at the caller's line
    with pytest.warns(ar.DenseGridWarning):
        ar.gradients(loss, f, Z0, THETA, ts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ar.odeint(f, Z0, THETA, ts, n_steps=1)  # chosen explicitly: no warning
        ar.odeint(f, Z0, THETA, ts[:99])  # 99 times: below the threshold
    assert np.array_equal(ar.odeint(f, Z0, THETA, TS), ar.odeint(f, Z0, THETA, TS, n_steps=20))  # the default
