"""Hostile inputs: each gets either a clear error naming the argument or a documented behaviour.

docs/robustness.md lists the same cases and what each gets. Plain bad values (NaN in z0,
non-monotone ts, n_steps=0, ...) are in test_errors.py; blow-ups of smooth problems too.
"""
import collections
import re

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, make_jvp

import adjoint_ref as ar
from adjoint_ref._impl import tree
from adjoint_ref._impl.memory import MemoryLimitError
from adjoint_ref.methods import METHODS as ALL_METHODS
from reference import relative, rk4_error_bound
from calls import call_gradients, call_odeint, f_linear, loss_sum

METHODS = ("adjoint", "backprop", "finite_differences")


def assert_same_gradients(a, b):
    assert a.loss == b.loss
    for q in ("z0", "theta", "ts"):
        assert np.array_equal(tree.ravel_tree(getattr(a, q)), tree.ravel_tree(getattr(b, q))), q


# --- inputs that are converted: the same numbers as the float64 call, bit for bit -----------------

@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, bool], ids=str)
def test_integer_float32_and_bool_arrays_are_converted_exactly(dtype):
    z0, theta, ts = np.array([1, 2]).astype(dtype), np.asarray(1).astype(dtype), np.array([0, 1]).astype(dtype)
    converted = call_gradients(z0=z0, theta=theta, ts=ts)
    as_float64 = call_gradients(z0=z0.astype(np.float64), theta=np.float64(theta), ts=ts.astype(np.float64))
    assert_same_gradients(converted, as_float64)
    assert converted.z0.dtype == converted.theta.dtype == converted.ts.dtype == np.float64


def test_zero_dimensional_state_keeps_its_shape():
    zs = call_odeint(z0=0.8, ts=[0.0, 0.5, 1.0])
    g = call_gradients(z0=0.8)
    assert zs.shape == (3,) and g.z0.shape == ()
    as_vector = call_gradients(z0=[0.8])
    assert g.loss == as_vector.loss and g.z0 == as_vector.z0[0] and g.theta == as_vector.theta


def test_theta_with_python_ints_and_floats():
    def f(z, theta, t):
        return theta[0] * z + theta[1]

    g = call_gradients(f=f, theta=[2, 0.5])
    assert isinstance(g.theta, list) and all(leaf.dtype == np.float64 and leaf.shape == () for leaf in g.theta)
    assert_same_gradients(g, call_gradients(f=f, theta=[np.float64(2.0), np.array(0.5)]))


@pytest.mark.parametrize("kind", [list, tuple])
def test_ts_as_list_or_tuple(kind):
    assert_same_gradients(call_gradients(ts=kind([0.0, 0.4, 1.0])), call_gradients(ts=np.array([0.0, 0.4, 1.0])))


@pytest.mark.parametrize("wrap", [lambda L: anp.reshape(L, (1,)), lambda L: anp.reshape(L, (1, 1)), anp.array],
                         ids=["shape (1,)", "shape (1, 1)", "0-d array"])
def test_loss_with_exactly_one_element_counts_as_a_scalar(wrap):
    # The rule autograd.grad applies: any shape holding one element. Shape (2,) is an error (test_errors).
    assert_same_gradients(call_gradients(loss=lambda zs: wrap(loss_sum(zs))), call_gradients())


@pytest.mark.parametrize("method", list(ALL_METHODS))
def test_empty_state_gives_empty_gradients(method):
    # z0 of shape (0,): nothing moves, L = Σ zs² = 0, every gradient is zero (dL/dz0 empty).
    g = call_gradients(z0=np.zeros(0), method=method)
    assert g.loss == 0 and g.z0.shape == (0,) and g.theta == 0 and np.array_equal(g.ts, [0.0, 0.0])


def test_f_may_return_its_input_itself():
    # dz/dt = z, returned without a copy: z(t) = z0 e^t, dL/dz0 = e^T for L = Σ z(T). The solver never
    # writes into f's result, so the alias is harmless; the caller's z0 is left alone.
    z0, T, n = np.array([1.0, -2.0]), 1.5, 20
    g = call_gradients(f=lambda z, theta, t: z, z0=z0, ts=[0.0, T], n_steps=n, loss=lambda zs: anp.sum(zs[-1]))
    assert relative(g.z0, np.exp(T) * np.ones(2)) < rk4_error_bound(1.0, T, T / n)
    assert np.array_equal(z0, [1.0, -2.0])


def test_f_may_return_a_parameter_itself():
    # dz/dt = v, f returns θ = v itself: z(T) = z0 + vT, which RK4 integrates exactly, so dL/dv = T.
    v = np.array([0.5, -1.0])
    g = call_gradients(f=lambda z, theta, t: theta, theta=v, ts=[0.0, 2.0], loss=lambda zs: anp.sum(zs[-1]))
    assert g.theta == pytest.approx([2.0, 2.0], rel=1e-14)
    assert np.array_equal(v, [0.5, -1.0])


# --- inputs that are refused ---------------------------------------------------------------------

Pair = collections.namedtuple("Pair", "a b")


@pytest.mark.parametrize("changes, error, words", [
    (dict(theta=None), TypeError, ["theta must be an array", "NoneType"]),
    (dict(theta=[0.5, "a"]), TypeError, ["theta[1]", "str"]),
    (dict(theta={"k": "1.5"}), TypeError, ["theta['k']", "str"]),
    (dict(theta=Pair(0.5, 1.0)), TypeError, ["theta must not be a namedtuple (Pair)"]),
    (dict(theta={"a": 0.5, 1: 2.0}), TypeError, ["theta is a dict with keys of types int, str", "one type"]),
    (dict(theta=[{"a": 0.5, (1,): 2.0}]), TypeError, ["theta[0] is a dict with keys of types str, tuple"]),
    (dict(theta=np.array(["1.5"])), TypeError, ["theta must hold real numbers", "<U3"]),
    (dict(z0=np.array([1 + 2j, 1])), TypeError, ["z0 must hold real numbers", "complex128"]),
    (dict(z0=["1", "2"]), TypeError, ["z0 must hold real numbers", "<U1"]),
    (dict(z0=None), TypeError, ["z0 must hold real numbers", "object"]),
    (dict(z0=[[1.0], [1.0, 2.0]]), TypeError, ["z0 must be convertible to a float64 array"]),
    (dict(ts=["0", "1"]), TypeError, ["ts must hold real numbers"]),
    (dict(ts=(0.0, 0.0)), ValueError, ["ts must be strictly increasing or strictly decreasing"]),
    (dict(ts=[1.0, 0.5, 0.5, 0.0]), ValueError, ["ts must be strictly increasing or strictly decreasing"]),
    (dict(loss=lambda zs: loss_sum(zs) + 0j), TypeError, ["loss must hold real numbers", "complex128"]),
    (dict(loss=lambda zs: [loss_sum(zs)]), TypeError, ["loss must return a real number, got list"]),
    (dict(loss=lambda zs: loss_sum(zs) * np.nan), FloatingPointError, ["loss returned nan"]),
    (dict(f=lambda z, th, t: (th * z,)), TypeError, ["f must return an array", "tuple"]),
    (dict(f=lambda z, th, t: (th * z).astype(np.float32)), TypeError, ["f returned dtype float32", "float64"]),
    (dict(f=lambda z, th, t: np.zeros(z.shape, int)), TypeError, ["f returned dtype int64"]),
    (dict(f=lambda z, th, t: th * z + 0j), TypeError, ["f returned dtype complex128"]),
    (dict(f=lambda z, th, t: z * np.nan), FloatingPointError,
     ["f(z0, theta, t0) became non-finite at t=0 during the forward pass"]),
])
@pytest.mark.filterwarnings("ignore:Output seems independent of input")
def test_refused_input_is_named(changes, error, words):
    with pytest.raises(error) as info:
        call_gradients(**changes)
    for word in words:
        assert word in str(info.value)


def scale_in_place(z, theta, t):
    z *= theta
    return z


def shift_theta_in_place(z, theta, t):
    theta["v"] += 1.0
    return theta["v"] * z


@pytest.mark.parametrize("f, theta", [(scale_in_place, 0.5), (shift_theta_in_place, {"v": np.array(0.5)})],
                         ids=["z", "theta"])
def test_f_that_modifies_its_arguments_is_refused_and_the_callers_arrays_survive(f, theta):
    z0 = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="f modified its argument z or theta in place"):
        call_gradients(f=f, z0=z0, theta=theta)
    assert np.array_equal(z0, [1.0, 2.0]) and np.array_equal(tree.ravel_tree(theta), [0.5])


# --- f that raises: the same exception, with a note naming the time and the pass -----------------

def raise_after(t_fail):
    def f(z, theta, t):
        if t >= t_fail:
            raise ZeroDivisionError("f failed on purpose")
        return theta * z
    return f


@pytest.mark.parametrize("f, note", [
    (raise_after(0.0), "raised by f(z0, theta, t) at t=0, the call adjoint_ref makes to check f"),
    (raise_after(0.6), "raised in the RK4 step from t=0.5 to t=0.75 during the forward pass"),
], ids=["first call", "forward pass"])
@pytest.mark.parametrize("method", METHODS)
def test_f_that_raises_keeps_its_exception_and_gets_a_note(f, note, method):
    with pytest.raises(ZeroDivisionError, match="f failed on purpose") as info:
        call_gradients(f=f, method=method)
    assert info.value.__notes__ == [note]


def test_f_that_fails_only_when_traced_gets_a_note_naming_the_backward_pass():
    # float() of a traced value fails on autograd's boxes; the adjoint traces f only on the way back.
    with pytest.raises(TypeError, match="ArrayBox") as info:
        call_gradients(f=lambda z, theta, t: theta * z * float(np.sum(z)))
    assert info.value.__notes__ == ["raised in the RK4 step from t=1 to t=0.75 during the backward pass"]


# --- backprop with a huge n_steps: refused before any memory is spent ----------------------------

def f_that_must_not_run_long(dynamics=f_linear):
    """`dynamics` that raises on its 11th call: a memory guard must refuse before the solve starts."""
    calls = []

    def f(z, theta, t):
        calls.append(t)
        if len(calls) > 10:  # the memory check failed to stop the solve: fail now instead of hanging
            raise RuntimeError("the solve started")
        return dynamics(z, theta, t)
    return f


def test_backprop_with_huge_n_steps_is_refused_early():
    with pytest.raises(ValueError, match=r"n_steps=1000000000 is too many for backprop.* GiB.*adjoint"):
        call_gradients(f=f_that_must_not_run_long(), n_steps=10**9, method="backprop")
    f = f_that_must_not_run_long()
    with pytest.raises(ValueError, match="n_steps=1000000000 is too many for backprop"):
        grad(lambda theta: anp.sum(call_odeint(f=f, theta=theta, n_steps=10**9, gradient="backprop")))(0.5)


# --- autograd around the solver: what is supported, and a plain error for what is not --------------

def sum_of_solution(gradient, z0=np.ones(2)):
    return lambda theta: anp.sum(call_odeint(theta=theta, z0=z0, gradient=gradient, n_steps=8))


def test_second_derivative_through_odeint_is_backprops():
    # zs = (z0, z0 e^θ) for dz/dt = θz on [0, 1]: d²/dθ² Σ zs = Σ z0 e^θ = 2e^0.5, to RK4's O(h⁴).
    assert grad(grad(sum_of_solution("backprop")))(0.5) == pytest.approx(2 * np.exp(0.5), rel=1e-5)
    with pytest.raises(NotImplementedError, match=r"differentiated once .* not twice.*gradient='backprop'"):
        grad(grad(sum_of_solution("adjoint")))(0.5)


def test_forward_mode_through_odeint_is_backprops():
    # d/dθ zs = (0, z0 e^θ), pushed forwards through every RK4 step.
    _, tangent = make_jvp(sum_of_solution("backprop"))(0.5)(1.0)
    assert tangent == pytest.approx(2 * np.exp(0.5), rel=1e-5)
    with pytest.raises(NotImplementedError, match=r"forward mode .* not supported.*gradient='backprop'"):
        make_jvp(sum_of_solution("adjoint"))(0.5)(1.0)


@pytest.mark.parametrize("through", ["theta", "loss"])
def test_autograd_through_gradients_is_refused_plainly(through):
    def value(w):
        theta, loss = (w, loss_sum) if through == "theta" else (0.5, lambda zs: w * loss_sum(zs))
        return call_gradients(theta=theta, loss=loss).loss

    with pytest.raises(TypeError, match=r"autograd cannot differentiate through it.*apply autograd to odeint"):
        grad(value)(0.5)


# --- NaN or overflow in a backward pass: FloatingPointError naming the time and the pass ----------

def abs_dynamics(z, theta, t):
    """θ·|z| written as θ·√(z²): finite, but its derivative at z = 0 is 0·∞ = NaN."""
    return theta * anp.sqrt(z ** 2)


ZERO_COMPONENT = dict(f=abs_dynamics, z0=np.array([0.0, 1.0]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method, message", [
    ("adjoint", "the state became non-finite at t=0.75 during the backward pass"),
    ("backprop", "the gradient dL/dz became non-finite at t=0.75 during the backward pass"),
])
def test_nan_only_in_the_backward_pass(method, message):
    assert np.all(np.isfinite(call_odeint(**ZERO_COMPONENT)))  # the forward pass is clean
    with pytest.raises(FloatingPointError, match=message):
        call_gradients(**ZERO_COMPONENT, method=method)
    with pytest.raises(FloatingPointError, match=message):
        grad(lambda z0: loss_sum(call_odeint(f=abs_dynamics, z0=z0, gradient=method)))(ZERO_COMPONENT["z0"])


def test_finite_differences_see_only_the_forward_pass():
    # Central differences of θ·|z| at z = 0 take the symmetric slope, 0: a finite answer, documented.
    # The zero component stays 0, so the rest is the gradient of the problem without it, which
    # backprop computes without trouble; the two agree to the differences' relative error, ≈ ε^(2/3).
    g = call_gradients(**ZERO_COMPONENT, method="finite_differences")
    without = call_gradients(f=abs_dynamics, z0=ZERO_COMPONENT["z0"][1:], method="backprop")
    assert g.z0[0] == 0.0
    fd_error = 10 * np.finfo(np.float64).eps ** (2 / 3)
    assert relative([g.z0[1:], g.theta, g.ts], [without.z0, without.theta, without.ts]) < fd_error


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method", METHODS)
def test_nan_in_the_gradient_of_the_loss_names_the_time(method):
    with pytest.raises(FloatingPointError, match="the loss gradient ∂L/∂z became non-finite at t=0 during"):
        call_gradients(z0=np.array([0.0, 1.0]), loss=lambda zs: anp.sum(anp.sqrt(zs ** 2)), method=method)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method, message", [
    ("adjoint", "the state became non-finite at t=0.75 during the backward pass"),
    ("backprop", r"dL/dtheta became non-finite during the backward pass \(backprop\)"),
])
def test_nan_only_in_the_parameter_gradient(method, message):
    # f = z·√(θ²) at θ = 0: z and dL/dz stay finite, λ ∂f/∂θ = 0·∞. Backprop sees it only at the end.
    with pytest.raises(FloatingPointError, match=message):
        call_gradients(f=lambda z, theta, t: z * anp.sqrt(theta ** 2), theta=0.0, method=method)


def test_overflow_in_the_backprop_backward_pass_names_the_time():
    # As in test_errors.py for the adjoint: dL/dz(t) grows like 1e300·e^{t1 − t} backwards.
    with pytest.raises(FloatingPointError, match=r"dL/dz became non-finite at t=\d+(\.\d+)? during the backward"):
        ar.gradients(lambda zs: anp.sum(anp.sin(1e300 * zs[-1])), f_linear, np.full(2, 1e-20), 1.0,
                     [0.0, 30.0], 10, "backprop")


# --- second round (issue 23): f that changes after its checked first call, masked arrays, check's tol --

def shift_theta_from_the_second_call(z, theta, t, calls=[]):
    """θ·z, but from its second call on it adds 1 to θ["v"] in place (only to plain arrays: backprop
    and the backward passes trace θ, and a traced θ cannot be written into: autograd refuses)."""
    calls.append(t)
    if len(calls) > 1 and isinstance(theta["v"], np.ndarray):
        theta["v"] += 1.0
    return theta["v"] * z


@pytest.mark.filterwarnings("ignore::adjoint_ref.adjoint.AdjointDriftWarning")  # the forward z was wrong
@pytest.mark.parametrize("method", ["adjoint", "finite_differences", "discrete_adjoint", "forward_sensitivity"])
def test_f_writing_into_theta_on_a_later_call_is_refused_and_the_callers_theta_survives(method):
    shift_theta_from_the_second_call.__defaults__[0].clear()
    theta = {"v": np.array(0.5)}
    with pytest.raises(ValueError, match=r"f modified its argument theta \(or z0\) in place during the solve"):
        call_gradients(f=shift_theta_from_the_second_call, theta=theta, method=method)
    assert theta["v"] == 0.5


def shape_changing_after(calls_allowed):
    calls = []

    def f(z, theta, t):
        calls.append(t)
        return theta * z if len(calls) <= calls_allowed else theta * anp.ones((3,) + np.shape(z))
    return f


@pytest.mark.parametrize("method", list(ALL_METHODS))
def test_f_whose_result_changes_shape_after_its_first_call_is_refused(method):
    with pytest.raises(ValueError, match=r"f returned shape \(3, 2\) but z has shape \(2,\).* at every call"):
        call_gradients(f=shape_changing_after(2), method=method)


@pytest.mark.parametrize("changes, name", [
    (dict(z0=np.ma.masked_array([1.0, 2.0], mask=[False, True])), "z0"),
    (dict(theta={"v": np.ma.masked_array([0.5], mask=[True])}), "theta['v']"),
    (dict(ts=np.ma.masked_array([0.0, 1.0])), "ts"),
])
def test_masked_arrays_are_refused(changes, name):
    # np.asarray would drop the mask and use the hidden values under it.
    with pytest.raises(TypeError, match=rf"{re.escape(name)} is a masked array"):
        call_gradients(**changes)


@pytest.mark.parametrize("tol", [np.inf, float("nan"), 0.0])
def test_check_refuses_a_tolerance_that_passes_anything(tol):
    with pytest.raises(ValueError, match="tol must be a positive, finite number"):
        ar.check(loss_sum, f_linear, np.ones(2), 0.5, [0.0, 1.0], 4, tol=tol)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("changes, blamed", [
    (dict(loss=lambda zs: loss_sum(zs) * np.nan), "the loss is at fault, not the gradient method"),
    (dict(f=lambda z, theta, t: theta * z ** 3, theta=50.0, ts=[0.0, 5.0]), "the forward solve itself is not finite"),
], ids=["NaN loss", "f overflows"])
def test_checks_verdict_blames_the_loss_or_the_forward_solve(changes, blamed):
    problem = dict(loss=loss_sum, f=f_linear, theta=0.5, ts=[0.0, 1.0], **{})
    problem.update(changes)
    report = ar.check(problem["loss"], problem["f"], np.ones(2), problem["theta"], problem["ts"], 4)
    assert not report.ok and [v.kind for v in report.verdicts] == ["failed"]
    assert blamed in report.verdicts[0].text and "contracting" not in report.verdicts[0].text


def test_forward_sensitivities_refuse_too_much_memory_before_any_work():
    # dz/dz0 alone is 40000 × 40000 numbers (12 GiB) for a batch of 20000 states in 2 dimensions.
    with pytest.raises(MemoryLimitError, match=r"forward sensitivities: dz/dz0 and dz/dθ, 40000 × 40001"):
        call_gradients(f=f_that_must_not_run_long(), z0=np.ones((20000, 2)), method="forward_sensitivity")
