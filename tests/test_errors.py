"""Bad input gets a clear exception that names the argument; a blow-up names the time."""
import argparse

import autograd.numpy as anp
import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref import exercises
from adjoint_ref.cli.commands import options
from calls import call_gradients, call_odeint, f_linear, loss_sum


@pytest.mark.parametrize("call", [call_gradients, call_odeint], ids=["gradients", "odeint"])
@pytest.mark.parametrize("changes, error, words", [
    (dict(f=lambda z, th, t: th * z[:1]), ValueError, ["f returned shape (1,)", "z0 has shape (2,)"]),
    (dict(f=lambda z, th, t: [1.0, 2.0]), TypeError, ["f must return an array", "list"]),
    (dict(f="not a function"), TypeError, ["f must be callable"]),
    (dict(z0=np.array([1.0, np.nan])), ValueError, ["z0 must be finite"]),
    (dict(z0="abc"), TypeError, ["z0"]),
    (dict(theta=np.inf), ValueError, ["theta must be finite"]),
    (dict(theta=[0.5, None]), TypeError, ["theta[1]", "NoneType"]),
    (dict(theta={"a": np.array([1.0, np.nan])}), ValueError, ["theta['a'] must be finite"]),
    (dict(ts=[0.0, np.nan]), ValueError, ["ts must be finite"]),
    (dict(ts=[0.0]), ValueError, ["ts must hold at least two"]),
    (dict(ts=[[0.0, 1.0]]), ValueError, ["ts must be 1-D", "(1, 2)"]),
    (dict(ts=[0.0, 1.0, 0.5]), ValueError, ["ts must be strictly increasing or strictly decreasing"]),
    (dict(ts=[0.0, 1.0, 1.0]), ValueError, ["ts must be strictly"]),
    (dict(n_steps=0), ValueError, ["n_steps must be a positive integer", "0"]),
    (dict(n_steps=2.5), TypeError, ["n_steps must be a positive integer", "2.5"]),
    (dict(n_steps=True), TypeError, ["n_steps"]),
])
def test_bad_argument_is_named(call, changes, error, words):
    with pytest.raises(error) as info:
        call(**changes)
    for word in words:
        assert word in str(info.value)


def test_unknown_method():
    with pytest.raises(ValueError, match="method must be one of 'adjoint', 'backprop', 'finite_differences'"):
        call_gradients(method="magic")


def test_unknown_gradient():
    with pytest.raises(ValueError, match="gradient must be one of 'adjoint', 'backprop'; got 'fd'"):
        call_odeint(gradient="fd")


def test_loss_must_return_a_scalar():
    with pytest.raises(ValueError, match=r"loss must return a scalar, got an array of shape \(2,\)"):
        call_gradients(loss=lambda zs: zs[-1])


def test_loss_must_be_callable():
    with pytest.raises(TypeError, match="loss must be callable"):
        call_gradients(loss=3.0)


@pytest.mark.parametrize("method", ["adjoint", "backprop", "finite_differences"])
def test_blow_up_in_the_forward_pass_names_the_time(method):
    # dz/dt = z², z(0) = 1 has z = 1/(1 − t): it leaves the floats before t = 1.
    with pytest.raises(FloatingPointError, match=r"non-finite at t=0\.\d+ during the forward pass"):
        call_gradients(f=lambda z, th, t: z ** 2 * 1e100, z0=np.ones(2), ts=[0.0, 0.9], n_steps=50,
                       method=method)


def test_blow_up_in_the_backward_pass_names_the_time():
    # The loss is finite (a sine) but its gradient is ~1e300; λ then grows like e^{θ(t1 − t)}
    # backwards and overflows, while the forward pass stays tiny.
    with pytest.raises(FloatingPointError, match=r"non-finite at t=\d+(\.\d+)? during the backward pass"):
        ar.gradients(lambda zs: anp.sum(anp.sin(1e300 * zs[-1])), f_linear, np.full(2, 1e-20), 1.0,
                     [0.0, 30.0], 10)


# Every positive real a user sets (a tolerance, a time limit) is checked by `validate.positive_number`:
# a non-real value is a TypeError, zero, a negative number, NaN or ±inf a ValueError, each naming it.
POSITIVE_ENTRIES = {
    "check tol": (lambda value: ar.check(loss_sum, f_linear, np.ones(2), 0.5, [0.0, 1.0], 4, tol=value), "tol"),
    "dopri5 rtol": (lambda value: call_odeint(solver="dopri5", n_steps=None, rtol=value), "rtol"),
    "dopri5 adjoint_atol": (lambda value: call_gradients(solver="dopri5", n_steps=None, adjoint_atol=value),
                            "adjoint_atol"),
    "exercise timeout": (lambda value: exercises.check(1, "never read.py", timeout=value), "timeout"),
}


@pytest.mark.parametrize("entry", sorted(POSITIVE_ENTRIES))
@pytest.mark.parametrize("value, error", [(0, ValueError), (-1e-6, ValueError), (np.nan, ValueError),
                                          (np.inf, ValueError), (-np.inf, ValueError), (True, TypeError),
                                          ("1e-6", TypeError), (1e-6 + 0j, TypeError), ([1e-6], TypeError)])
def test_every_positive_number_follows_one_rule(entry, value, error):
    call, name = POSITIVE_ENTRIES[entry]
    with pytest.raises(error, match=f"^{name} must be a positive, finite number, got "):
        call(value)


@pytest.mark.parametrize("text", ["0", "-1e-6", "nan", "inf", "-inf", "1e-6j", "true"])
def test_the_command_line_refuses_the_same_numbers(text):
    with pytest.raises(argparse.ArgumentTypeError, match="must be a positive, finite number"):
        options.positive_float(text)
    assert options.positive_float("1e-6") == 1e-6


def plain_stack(z, theta, t):
    return np.stack([-theta * z[0], z[1]])  # plain numpy on a traced z


def plain_array(z, theta, t):
    return np.array([-theta * z[0], z[1]])


def plain_dot(z, theta, t):
    return np.dot(np.diag([theta, 1.0]), z)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # autograd's, on the object array
@pytest.mark.parametrize("f, call", [(plain_stack, "np.stack"), (plain_array, "np.array"), (plain_dot, "np.dot")])
@pytest.mark.parametrize("method", ["adjoint", "backprop", "discrete_adjoint", "forward_sensitivity"])
def test_f_in_plain_numpy_gets_one_line_naming_the_call(f, call, method):
    with pytest.raises(TypeError, match=f"f must be written with autograd.numpy.*{call}") as info:
        call_gradients(f=f, method=method)
    assert "\n" not in str(info.value)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("gradient", ["adjoint", "backprop"])
def test_f_in_plain_numpy_under_autograd_grad(gradient):
    from autograd import grad
    with pytest.raises(TypeError, match="f must be written with autograd.numpy.*np.stack"):
        grad(lambda theta: anp.sum(ar.odeint(plain_stack, np.ones(2), theta, [0.0, 1.0], 4, gradient) ** 2))(0.5)


def test_numpy_for_constants_outside_the_trace_is_fine():
    # np.array of constants and np.pi never meet a traced value: nothing to refuse
    g = call_gradients(f=lambda z, theta, t: theta * np.array([-1.0, -2.0]) * z * np.pi)
    assert np.all(np.isfinite(g.z0))


@pytest.mark.parametrize("f", [lambda t, y, p: -p * y, lambda t, z, theta: -theta * z])
def test_torchdiffeqs_argument_order_is_refused_before_solving(f):
    # f(t, y, p) with p shaped like z would run and return a wrong loss
    with pytest.raises(TypeError, match=r"time first.*f\(z, theta, t\)"):
        call_gradients(f=f, theta=np.ones(2))
    with pytest.raises(TypeError, match=r"f\(z, theta, t\)"):
        call_odeint(f=f, theta=np.ones(2))


@pytest.mark.parametrize("keyword, words", [("adjoint_options", "adjoint_rtol"), ("event_fn", "no events"),
                                            ("saveat", "observation times ts"), ("max_num_steps", "rtol and atol")])
@pytest.mark.parametrize("call", [call_gradients, call_odeint], ids=["gradients", "odeint"])
def test_other_libraries_keywords_say_what_to_do_here(call, keyword, words):
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{keyword}': .*{words}"):
        call(**{keyword: None})
