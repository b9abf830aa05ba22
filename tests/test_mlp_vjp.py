"""The default MLP's hand-written derivatives against autograd's own, traced through its formula.

`mlp_dynamics` is an autograd primitive with a hand-written VJP and JVP; `mlp_formula` is the same
formula in autograd.numpy, which autograd differentiates with its own rules. Both derivatives
compute the same sums in a different order, so they agree to round-off: a few ulps of the O(1)
entries (we allow 1e-13 relative).
"""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, make_jvp, make_vjp

from adjoint_ref.tree import ravel_tree
from adjoint_ref.models import mlp_dynamics, mlp_formula, mlp_init

ROUND_OFF = 1e-13


def relative(a, b):
    a, b = ravel_tree(a), ravel_tree(b)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(params=[(3,), (5, 3)], ids=["vector", "batch"])
def point(request):
    rng = np.random.default_rng(len(request.param))
    return rng.normal(size=request.param), mlp_init(3, 7, seed=2), 0.37, rng


def test_values_are_the_formula_exactly(point):
    z, theta, t, _ = point
    assert np.array_equal(mlp_dynamics(z, theta, t), mlp_formula(z, theta, t))


def test_vjp_matches_autograd(point):
    z, theta, t, rng = point
    g = rng.normal(size=z.shape)
    mine = make_vjp(mlp_dynamics, argnum=(0, 1, 2))(z, theta, t)[0](g)
    theirs = make_vjp(mlp_formula, argnum=(0, 1, 2))(z, theta, t)[0](g)
    for a, b in zip(mine, theirs):
        assert relative(a, b) < ROUND_OFF


@pytest.mark.parametrize("argnum", [0, 1, 2])
def test_jvp_matches_autograd(point, argnum):
    z, theta, t, rng = point
    tangent = [rng.normal(size=z.shape), {k: rng.normal(size=v.shape) for k, v in theta.items()}, 0.8][argnum]
    mine = make_jvp(mlp_dynamics, argnum)(z, theta, t)(tangent)[1]
    theirs = make_jvp(mlp_formula, argnum)(z, theta, t)(tangent)[1]
    assert relative(mine, theirs) < ROUND_OFF


def test_vjp_can_be_differentiated_again(point):
    z, theta, t, rng = point
    g = rng.normal(size=z.shape)

    def squared_w1_gradient(z, f):
        return anp.sum(make_vjp(f, argnum=1)(z, theta, t)[0](g)["W1"] ** 2)

    assert relative(grad(squared_w1_gradient)(z, mlp_dynamics), grad(squared_w1_gradient)(z, mlp_formula)) < ROUND_OFF


def test_parameters_boxed_inside_a_plain_dict_are_still_traced(point):
    # The primitive sees no box at its top level, so autograd traces the formula inside instead.
    z, theta, t, _ = point

    def loss(W1, f):
        return anp.sum(f(z, {**theta, "W1": W1}, t) ** 2)

    assert relative(grad(loss)(theta["W1"], mlp_dynamics), grad(loss)(theta["W1"], mlp_formula)) < ROUND_OFF


def test_unused_parameter_keys_get_a_zero_gradient(point):
    z, theta, t, rng = point
    extended = {**theta, "unused": np.ones(4)}
    g = make_vjp(mlp_dynamics, argnum=1)(z, extended, t)[0](rng.normal(size=z.shape))
    assert list(g) == list(extended) and np.array_equal(g["unused"], np.zeros(4))
