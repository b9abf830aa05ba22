"""The default MLP's hand-written derivatives against autograd's derivatives of its formula.

`mlp_dynamics` is an autograd primitive: autograd does not look inside it, it calls the VJP
(`models._mlp_vjp`) and the JVP (`models._mlp_jvp`) written by hand beside it. `mlp_formula` is the
same f in autograd.numpy, which autograd traces and differentiates with its own rules for dot, tanh,
+ and ×: that is the reference here. The two compute the same sums in a different order, so they
agree to round-off: a few ulps of the O(1) entries (we allow 1e-13 relative).
"""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, make_jvp, make_vjp

from adjoint_ref.problems.models import mlp_dynamics, mlp_formula, mlp_init
from reference import relative

ROUND_OFF = 1e-13
ARGUMENTS = ("z", "theta", "t")


@pytest.fixture(params=[((3,), False), ((5, 3), False), ((5, 3), True)],
                ids=["vector", "batch", "batch, unused θ key"])
def point(request):
    """(z, θ, t) of a 3 → 7 → 3 network with t ≠ 0, and a random generator for the cotangents.

    z is one state or a batch; in the last case θ also holds a key that the MLP does not read.
    """
    shape, unused_key = request.param
    rng = np.random.default_rng(len(shape))
    theta = mlp_init(3, 7, seed=2)
    if unused_key:
        theta["unused"] = rng.normal(size=4)
    return (rng.normal(size=shape), theta, 0.37), rng


def random_like(value, rng):
    """A random value shaped like `value` (a number, an array or a dict of arrays)."""
    if isinstance(value, dict):
        return {key: random_like(entry, rng) for key, entry in value.items()}
    return rng.normal(size=np.shape(value)) if np.ndim(value) else float(rng.normal())


@pytest.mark.parametrize("argnums", [(0, 1, 2), (0,), (1,), (2,)], ids=["all", "z", "theta", "t"])
def test_hand_written_vjp_matches_autograd(point, argnums):
    args, rng = point
    g = rng.normal(size=args[0].shape)
    mine = make_vjp(mlp_dynamics, argnum=argnums)(*args)[0](g)
    theirs = make_vjp(mlp_formula, argnum=argnums)(*args)[0](g)
    for argnum, a, b in zip(argnums, mine, theirs):
        assert relative(a, b) < ROUND_OFF, ARGUMENTS[argnum]
    if 1 in argnums:  # every key of θ gets a gradient, in θ's order; unused ones get exact zeros
        g_theta = mine[argnums.index(1)]
        assert list(g_theta) == list(args[1])
        assert "unused" not in g_theta or np.array_equal(g_theta["unused"], np.zeros(4))


@pytest.mark.parametrize("argnum", [0, 1, 2], ids=ARGUMENTS)
def test_hand_written_jvp_matches_autograd(point, argnum):
    args, rng = point
    tangent = random_like(args[argnum], rng)
    value, mine = make_jvp(mlp_dynamics, argnum)(*args)(tangent)
    theirs = make_jvp(mlp_formula, argnum)(*args)(tangent)[1]
    assert mine.shape == value.shape == args[0].shape
    assert relative(mine, theirs) < ROUND_OFF


def test_second_derivatives_through_the_hand_written_vjp(point):
    # grad of a function of the VJP: autograd differentiates the hand-written VJP's own operations
    # (and calls the hand-written VJP again for the f inside it).
    args, rng = point
    g = rng.normal(size=args[0].shape)

    def size_of_vjp(f):
        def size(z, theta, t):
            g_z, g_theta, g_t = make_vjp(f, argnum=(0, 1, 2))(z, theta, t)[0](g)
            return anp.sum(g_z ** 2) + sum(anp.sum(v ** 2) for v in g_theta.values()) + g_t ** 2
        return size

    mine = grad(size_of_vjp(mlp_dynamics), argnum=(0, 1, 2))(*args)
    theirs = grad(size_of_vjp(mlp_formula), argnum=(0, 1, 2))(*args)
    for name, a, b in zip(ARGUMENTS, mine, theirs):
        assert relative(a, b) < ROUND_OFF, name


def test_parameters_boxed_inside_a_plain_dict_are_still_traced(point):
    # The primitive sees no box at its top level, so it runs its formula, which autograd traces.
    (z, theta, t), _ = point

    def loss(W1, f):
        return anp.sum(f(z, {**theta, "W1": W1}, t) ** 2)

    assert relative(grad(loss)(theta["W1"], mlp_dynamics), grad(loss)(theta["W1"], mlp_formula)) < ROUND_OFF
