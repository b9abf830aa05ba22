"""`fast_vjp.vjp_of` replays f's recorded primitives: the same numbers as tracing f at every stage (to
1e-14, bitwise where the operations are the same), and a fresh trace whenever the tape is not f any more
(a branch taken the other way, a changed shape, a changed closure), never the derivative of another branch."""
import functools

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.extend import defvjp, primitive

import adjoint_ref as ar
from adjoint_ref import adjoint, discrete_adjoint, sensitivity
from adjoint_ref._impl import fast_vjp
from adjoint_ref.problems.models import default_problem, mlp_dynamics, mlp_formula
from adjoint_ref.problems.zoo import ZOO

TOL = 1e-14


def relative(a, b):
    """max |a − b| over max |b| (0 for equal zeros)."""
    a, b = np.ravel(a), np.ravel(b)
    scale = np.max(np.abs(b))
    return np.max(np.abs(a - b)) / (scale if scale > 0 else 1.0)


def stage_gap(vjp_of_f, f, z, theta, t, lam):
    """The largest relative difference between vjp_of_f's f and products at (z, θ, t) and a fresh trace's."""
    value, pullback = vjp_of_f(z, theta, t)
    traced_value, traced_pullback = fast_vjp.traced(f, z, theta, t)
    gaps = [relative(value, traced_value)] + [relative(a, b) for a, b in zip(pullback(lam), traced_pullback(lam))]
    return max(gaps)


@pytest.fixture
def make_vjp_calls(monkeypatch):
    """The functions fast_vjp traced with make_vjp (the path a replay avoids)."""
    calls = []
    real = fast_vjp.make_vjp
    monkeypatch.setattr(fast_vjp, "make_vjp", lambda fun, x: (calls.append(fun), real(fun, x))[1])
    return calls


def stages(problem, count=4, seed=0):
    """(z, t, λ) at `count` stages near problem.z0 and inside its time span."""
    rng = np.random.default_rng(seed)
    shape = np.shape(problem.z0)
    return [(problem.z0 + 0.1 * rng.normal(size=shape), float(problem.ts[0] + 0.1 * k), rng.normal(size=shape))
            for k in range(count)]


PROBLEMS = {"mlp_formula": lambda: default_problem()._replace(f=mlp_formula), **{n: e.make for n, e in ZOO.items()}}


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_replay_is_the_trace_on_the_zoo(name, make_vjp_calls):
    p = PROBLEMS[name]()
    vjp_of_f = fast_vjp.vjp_of(p.f)
    gaps = [stage_gap(vjp_of_f, p.f, z, p.theta, t, lam) for z, t, lam in stages(p)]
    assert max(gaps) == 0  # the same operations on the same numbers, in the same order
    assert len(make_vjp_calls) == len(gaps)  # only the reference traces: every stage of vjp_of_f was replayed
    tapes = fast_vjp.tapes_of(p.f).values()  # this test's, and those of other tests on other shapes
    assert {tape.whole_theta for tape in tapes} == {p.f is mlp_dynamics}  # only a primitive taking θ whole needs it


def products_along(f, inputs, theta):
    """The largest gap between vjp_of(f) and a fresh trace over the (z, t) in `inputs`, in order."""
    vjp_of_f = fast_vjp.vjp_of(f)
    return max(stage_gap(vjp_of_f, f, np.array(z, dtype=float), theta, t, np.array([0.7, -1.3])) for z, t in inputs)


def branch_on_z(z, theta, t):
    """z² where z₀ > 1 and z elsewhere: the two branches agree at z = (1, 1), their derivatives do not."""
    return theta * z ** 2 if z[0] > 1 else theta * z


def branch_on_t(z, theta, t):
    """The same on t: equal values at t = 1, different t-derivatives."""
    return theta * z * t ** 2 if t > 1 else theta * z * t


def where_on_z(z, theta, t):
    """np.where on a comparison, abs and the built-in max (a comparison and a truth test)."""
    return anp.where(z > 1, theta * z ** 2, theta * z) + anp.abs(z - t) + max(z[0], z[1]) * t


def in_place_looking(z, theta, t):
    """Augmented assignments and a buffer: on boxes they build new values, on arrays they write in place."""
    h = z * 1.0
    h += t
    h *= theta
    out = anp.zeros_like(z)
    out = out + anp.reshape(h, (-1,))
    return out - anp.sum(out) / anp.size(out)


@primitive
def cube(x):
    """x³ with a hand-written derivative (3x²), through autograd's defvjp."""
    return x ** 3


defvjp(cube, lambda ans, x: lambda g: 3 * g * x ** 2)


def with_own_primitive(z, theta, t):
    return cube(z) * theta + t


BRANCHES = {
    "branch on z": (branch_on_z, [([2.0, 0.5], 0.3), ([1.0, 1.0], 0.3), ([0.5, 2.0], 0.3), ([3.0, 1.0], 0.3)]),
    "branch on t": (branch_on_t, [([2.0, 0.5], 2.0), ([2.0, 0.5], 1.0), ([2.0, 0.5], 0.5), ([1.0, 1.0], 3.0)]),
    "np.where, abs, max": (where_on_z, [([2.0, 0.5], 0.3), ([0.5, 2.0], 0.3), ([1.0, 3.0], 2.0), ([0.2, 0.1], 0.0)]),
    "in-place-looking code": (in_place_looking, [([2.0, 0.5], 0.3), ([0.5, 2.0], 1.3)]),
    "defvjp primitive": (with_own_primitive, [([2.0, 0.5], 0.3), ([-0.5, 2.0], 1.3)]),
}


@pytest.mark.parametrize("name", list(BRANCHES))
def test_replay_follows_branches(name, make_vjp_calls):
    f, inputs = BRANCHES[name]
    assert products_along(f, inputs, np.array([1.5, -0.5])) <= TOL
    assert len(make_vjp_calls) == len(inputs)  # only the reference traces: f was recorded, never traced


def test_a_branch_with_equal_values_is_traced_again():
    # at z = (1, 1) both branches give z: only the recorded truth test tells the replay of z² is wrong
    vjp_of_f = fast_vjp.vjp_of(branch_on_z)
    theta, lam = np.ones(2), np.ones(2)
    vjp_of_f(np.array([2.0, 0.5]), theta, 0.0)
    value, pullback = vjp_of_f(np.array([1.0, 1.0]), theta, 0.0)
    assert np.array_equal(value, [1.0, 1.0]) and np.array_equal(pullback(lam)[0], [1.0, 1.0])  # d(z)/dz, not 2z


def test_a_changed_closure_is_traced_again():
    scale = [2.0]

    def f(z, theta, t):
        return scale[0] * anp.tanh(theta * z)

    vjp_of_f, z, theta = fast_vjp.vjp_of(f), np.array([0.3, -0.2]), np.array([1.0, 2.0])
    vjp_of_f(z, theta, 0.0)
    scale[0] = 3.0
    assert stage_gap(vjp_of_f, f, z, theta, 0.0, np.ones(2)) <= TOL


def test_a_changed_shape_is_traced_again():
    def positives(z, theta, t):  # the shape of z[z > 0] depends on z, and f reads it: at θ = 1 both agree
        return z * theta if len(z[z > 0]) == 2 else z * 1.0

    assert products_along(positives, [([2.0, 0.5], 0.0), ([-1.0, 0.5], 0.0), ([-1.0, -0.5], 0.0)], np.ones(2)) <= TOL


def test_a_mask_is_replayed():
    def squares_of_positives(z, theta, t):  # z[z > 0] changes shape, but f never looks at it
        return theta * anp.sum(z[z > 0] ** 2) + z

    inputs = [([2.0, 0.5], 0.0), ([-1.0, 0.5], 0.0), ([-1.0, -0.5], 0.0)]
    assert products_along(squares_of_positives, inputs, np.ones(2)) <= TOL


def test_in_place_accumulation_is_not_replayed(make_vjp_calls):
    def hamiltonian_flow(z, theta, t):  # a gradient inside f: its reverse sweep adds cotangents in place
        return grad(lambda q: anp.sum(theta * q ** 2) + anp.sum(anp.sin(q)) + anp.sum(q ** 3))(z)

    assert products_along(hamiltonian_flow, [([2.0, 0.5], 0.0), ([-1.0, 0.5], 0.0)], np.ones(2)) <= TOL
    assert set(fast_vjp.tapes_of(hamiltonian_flow).values()) == {None}
    assert len(make_vjp_calls) == 4  # both stages traced, as well as the two references


def traced_everywhere(monkeypatch):
    """Make the solvers trace f at every stage, as before the replay."""
    for module in (adjoint, discrete_adjoint, sensitivity):
        monkeypatch.setattr(module, "vjp_of", lambda f: functools.partial(fast_vjp.traced, f))


@pytest.mark.parametrize("name", ["mlp_formula", "mlp", "lotka-volterra"])
def test_gradients_unchanged(name, monkeypatch):
    p = PROBLEMS[name]()
    methods = [("adjoint", None), ("adjoint", 2), ("discrete_adjoint", None), ("forward_sensitivity", None)]
    replayed = [ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 3, m, checkpoints=k) for m, k in methods]
    traced_everywhere(monkeypatch)
    for (method, checkpoints), g in zip(methods, replayed):
        h = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 3, method, checkpoints=checkpoints)
        for a, b in ((g.z0, h.z0), (g.ts, h.ts), (fast_vjp.ravel_tree(g.theta), fast_vjp.ravel_tree(h.theta))):
            assert relative(a, b) <= TOL, method


def test_theta_whole_with_its_entries_read_too(make_vjp_calls):
    def mlp_and_bias(z, theta, t):  # the built-in MLP takes θ whole, and f also reads an entry of θ
        return mlp_dynamics(z, theta, t) + theta["b2"] * t

    p = default_problem(hidden=3)
    vjp_of_f = fast_vjp.vjp_of(mlp_and_bias)
    assert max(stage_gap(vjp_of_f, mlp_and_bias, z, p.theta, t, lam) for z, t, lam in stages(p)) == 0
    tape, = fast_vjp.tapes_of(mlp_and_bias).values()
    assert tape.whole_theta and len(make_vjp_calls) == 4


def test_an_f_that_is_not_a_function_of_its_arguments_is_traced(make_vjp_calls):
    calls = [0]

    def drifting(z, theta, t):  # a different value at every call: no replay can pass its check
        calls[0] += 1
        return theta * z + calls[0]

    vjp_of_f, z = fast_vjp.vjp_of(drifting), np.array([0.3, -0.2])
    for _ in range(6):
        vjp_of_f(z, np.ones(2), 0.0)
    assert set(fast_vjp.tapes_of(drifting).values()) == {None}
    assert len(make_vjp_calls) == 6 - fast_vjp.MAX_MISSES  # recorded, recorded again MAX_MISSES − 1 times, then traced
