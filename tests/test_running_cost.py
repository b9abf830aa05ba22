"""Running costs, L = ℓ(zs) + ∫ g(z, θ, t) dt (`gradients(..., running_loss=g)`).

Backprop, finite differences, forward sensitivities and the discrete adjoint differentiate the same
number, ∫ g dt integrated as q' = g by the RK4 steps of z, so they agree with each other to round-off
(finite differences to their own ~1e-9). The continuous adjoint solves dλ/dt = −λ∂f/∂z − ∂g/∂z and
da_θ/dt = −λ∂f/∂θ − ∂g/∂θ instead: it differs from them by RK4's O(h⁴), checked by its size against
a closed form and by its 16-fold fall when h is halved.
"""
import autograd.numpy as anp
import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref.problems.models import default_problem
from adjoint_ref._impl.tree import ravel_tree
from reference import relative, rk4_error_bound

EXACT_METHODS = ("backprop", "discrete_adjoint", "forward_sensitivity")
ROUND_OFF = 1e-12
FD_TOL = 1e-8  # central differences err by ~ε^(2/3) ≈ 4e-11 per entry; 1e-8 relative leaves room


def growth(z, theta, t):
    return theta * z


def square(z, theta, t):
    return z ** 2


def test_closed_form_growth_with_an_integrated_square():
    # dz/dt = θz, L = ∫_{t0}^{t1} z² dt with z = z0 e^{θ(t − t0)}: L = z0² (e^{2θT} − 1) / (2θ).
    # λ(t) = ∂L/∂z(t) solves dλ/dt = −θλ − 2z, λ(t1) = 0: λ(t0) = dL/dz0 = 2 z0 (e^{2θT} − 1) / (2θ).
    # dL/dt1 = g(z1) = z1²; dL/dt0 = −H(t0) = −(λ(t0) θ z0 + z0²); H = λf + g is constant (autonomous).
    z0, theta, t0, t1, n = 0.8, 0.7, 0.2, 1.7, 20
    T, z1 = t1 - t0, z0 * np.exp(theta * (t1 - t0))
    loss = z0 ** 2 * (np.exp(2 * theta * T) - 1) / (2 * theta)
    lam0 = 2 * loss / z0
    exact = {"loss": loss, "z0": lam0,
             "theta": z0 ** 2 * (2 * T * np.exp(2 * theta * T) / (2 * theta) - (np.exp(2 * theta * T) - 1) / (2 * theta ** 2)),
             "ts": np.array([-(lam0 * theta * z0 + z0 ** 2), z1 ** 2])}
    tol = rk4_error_bound(2 * theta, T, T / n)
    for method in ("adjoint",) + EXACT_METHODS + ("finite_differences",):
        g = ar.gradients(lambda zs: 0.0 * zs[-1], growth, z0, theta, [t0, t1], n, method, running_loss=square)
        for name, value in exact.items():
            assert relative(getattr(g, name), value) < tol, (method, name)


def mlp_problem():
    """The default MLP problem with a running cost that depends on z, θ and t."""
    p = default_problem(hidden=6, batch=2, seed=2)

    def g(z, theta, t):
        return anp.sum(z ** 2) * (1.0 + 0.3 * anp.sin(3.0 * t)) + 0.1 * t * anp.sum(theta["W2"] ** 2)

    return p, g


def all_gradients(p, g, n_steps, methods, **options):
    return {m: ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, m, running_loss=g, **options) for m in methods}


def flat(result):
    return {"z0": np.ravel(result.z0), "theta": ravel_tree(result.theta), "ts": result.ts}


def test_exact_methods_agree_to_round_off_and_finite_differences_to_their_precision():
    p, g = mlp_problem()
    results = all_gradients(p, g, 6, EXACT_METHODS + ("finite_differences",))
    reference = flat(results["backprop"])
    for method, result in results.items():
        assert result.loss == results["backprop"].loss, method
        tol = FD_TOL if method == "finite_differences" else ROUND_OFF
        for name, value in flat(result).items():
            if method == "forward_sensitivity" and name == "ts":
                continue  # its time gradients use the continuous formulas at t_i: O(h⁴), checked below
            assert relative(value, reference[name]) < tol, (method, name)


@pytest.mark.parametrize("checkpoints", [None, 2])
def test_the_adjoint_differs_from_backprop_by_h4(checkpoints):
    p, g = mlp_problem()
    gaps = []
    for n in (4, 8, 16):
        adjoint = flat(all_gradients(p, g, n, ("adjoint",), checkpoints=checkpoints)["adjoint"])
        backprop = flat(all_gradients(p, g, n, ("backprop",))["backprop"])
        gaps.append([relative(adjoint[name], backprop[name]) for name in ("z0", "theta", "ts")])
    gaps = np.array(gaps)
    assert np.all(gaps[-1] < 1e-6), gaps
    ratios = gaps[:-1] / gaps[1:]
    assert np.all((ratios > 10) & (ratios < 25)), ratios  # 2⁴ = 16 for an order-4 gap


def test_forward_sensitivity_time_gradients_differ_by_h4():
    p, g = mlp_problem()
    gaps = [relative(*(r.ts for r in all_gradients(p, g, n, ("forward_sensitivity", "backprop")).values()))
            for n in (4, 8)]
    assert gaps[1] < 1e-6 and 10 < gaps[0] / gaps[1] < 25, gaps


def test_without_a_running_cost_nothing_changes():
    p = default_problem(hidden=4, batch=0)
    plain = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 6)
    zero = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 6, running_loss=lambda z, theta, t: 0.0 * anp.sum(z))
    assert plain.loss == zero.loss
    for name, value in flat(plain).items():
        assert relative(flat(zero)[name], value) < ROUND_OFF, name


@pytest.mark.parametrize("bad, error, words", [
    ("g", TypeError, "running_loss must be callable"),
    (lambda z, theta, t: anp.stack([z, z]), ValueError, "running_loss must return a scalar"),
    (lambda z, theta, t: "1.0", TypeError, "running_loss must return a real number"),
    (lambda z, theta, t: np.nan * z, FloatingPointError, "running_loss"),
])
def test_a_bad_running_loss_is_named(bad, error, words):
    with pytest.raises(error, match=words):
        ar.gradients(lambda zs: zs[-1], growth, 0.5, 0.3, [0.0, 1.0], 4, running_loss=bad)
