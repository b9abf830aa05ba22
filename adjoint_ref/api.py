"""The public API: `odeint` (a differentiable solve) and `gradients` (dL/dz0, dL/dθ, dL/dts).

Data flow: validate → forward RK4 (eq. 3) → zs → loss → ∂L/∂zs → one of the backward passes
(continuous adjoint, backprop through RK4, or central finite differences).
"""
from collections import namedtuple

import numpy as np
from autograd import make_vjp
from autograd.builtins import dict as ag_dict, list as ag_list, tuple as ag_tuple
from autograd.extend import defvjp_argnums, primitive
from autograd.tracer import getval

from . import _checks
from .adjoint import adjoint_gradients
from .discrete_adjoint import discrete_adjoint_gradients
from .finite_differences import finite_difference_gradients
from .rk4 import integrate
from .sensitivity import forward_sensitivity_gradients

DEFAULT_N_STEPS = 20
BACKPROP_MEMORY_LIMIT = 2 * 2**30  # bytes; backprop refuses to record more (_checks.estimated_backprop_bytes)
METHODS = ("adjoint", "backprop", "finite_differences", "forward_sensitivity", "discrete_adjoint")

Gradients = namedtuple("Gradients", ["loss", "z0", "theta", "ts"])
Gradients.__doc__ = """The loss value L and its gradients dL/dz0, dL/dθ (θ's container structure), dL/dts."""


def _validated(f, z0, theta, ts, n_steps):
    z0 = _checks.as_float_array(z0, "z0")
    theta = _checks.as_float_tree(theta)
    ts = _checks.as_times(ts)
    n_steps = _checks.as_n_steps(n_steps)
    _checks.check_dynamics(f, z0, theta, getval(ts)[0])
    return z0, theta, ts, n_steps


def odeint(f, z0, theta, ts, n_steps=DEFAULT_N_STEPS, gradient="adjoint", checkpoints=None):
    """Solve dz/dt = f(z, θ, t), z(ts[0]) = z0 (eqs. 1–3), and return zs with zs[i] = z(ts[i]).

    f(z, theta, t) returns dz/dt with the shape of z (a vector (D,) or a batch (B, D)), written
    with autograd.numpy. ts holds at least two strictly monotone times (decreasing integrates
    backwards); n_steps equal RK4 steps are taken on each interval [ts[i], ts[i+1]].
    The result, of shape (len(ts),) + z0.shape, is differentiable by autograd with respect to
    z0, theta and ts: gradient="adjoint" differentiates it by the continuous adjoint
    (eqs. 11–12, memory independent of n_steps); gradient="backprop" lets autograd record
    and reverse every RK4 stage. checkpoints=K (adjoint only) recomputes z forwards from K
    checkpoints per interval instead of integrating it backwards (see `gradients`).
    """
    _checks.choice(gradient, _checks.GRADIENT_METHODS, "gradient")
    checkpoints = _adjoint_only(_checks.as_checkpoints(checkpoints), gradient, "gradient")
    z0, theta, ts, n_steps = _validated(f, z0, theta, ts, n_steps)
    if gradient == "backprop":
        if _checks.is_traced(z0, theta, ts):
            _checks.check_backprop_memory(z0, len(ts) - 1, n_steps, BACKPROP_MEMORY_LIMIT)
        return integrate(f, z0, theta, ts, n_steps)
    return _odeint_adjoint(z0, _traceable(theta), ts, f, n_steps, checkpoints)


def _adjoint_only(checkpoints, method, name):
    if checkpoints is not None and method != "adjoint":
        raise ValueError(f"checkpoints applies to {name}='adjoint' only, got {name}={method!r}")
    return checkpoints


def _traceable(theta):
    """Rebuild θ's containers with autograd's container primitives, so that an autograd box
    nested inside a list/tuple/dict still reaches the primitive below."""
    if isinstance(theta, (list, tuple)):
        items = [_traceable(item) for item in theta]
        return ag_tuple(items) if isinstance(theta, tuple) else ag_list(items)
    if isinstance(theta, dict):
        return ag_dict({key: _traceable(value) for key, value in theta.items()})
    return theta


@primitive
def _odeint_adjoint(z0, theta, ts, f, n_steps, checkpoints):
    return integrate(f, z0, theta, ts, n_steps)


def _odeint_adjoint_vjp(argnums, zs, args, kwargs):
    z0, theta, ts, f, n_steps, checkpoints = args

    def vjp(g):
        grads = adjoint_gradients(f, zs, theta, ts, n_steps, g, checkpoints=checkpoints)
        return tuple(grads[i] for i in argnums)

    return vjp


defvjp_argnums(_odeint_adjoint, _odeint_adjoint_vjp)


def _loss_and_gradient(loss, zs):
    if not callable(loss):
        raise TypeError(f"loss must be callable as loss(zs), got {type(loss).__name__}")
    vjp, value = make_vjp(loss)(zs)
    _checks.check_loss_value(value)
    return float(np.ravel(value)[0]), vjp(np.ones(np.shape(value)))


def gradients(loss, f, z0, theta, ts, n_steps=DEFAULT_N_STEPS, method="adjoint", checkpoints=None):
    """L = loss(odeint(f, z0, θ, ts)) and its gradients, as Gradients(loss, z0, theta, ts).

    method: "adjoint" (eqs. 11–12, backwards in time), "backprop" (autograd through the RK4
    stages), "finite_differences" (central differences of the forward pass), "forward_sensitivity"
    (dz/dθ and dz/dz0 integrated forwards alongside z, see `sensitivity`) or "discrete_adjoint"
    (the exact gradient of the RK4 solution by transposing its steps; equals backprop to round-off).
    checkpoints (method="adjoint" only): None integrates z backwards alongside λ, which fails for
    strongly contracting dynamics; K re-integrates z forwards from K checkpoints per observation
    interval instead (memory O(K + n_steps/K)). dL/dθ comes back in θ's container structure with
    float64 arrays as leaves; dL/dts is an array like ts.
    """
    _checks.choice(method, METHODS, "method")
    checkpoints = _adjoint_only(_checks.as_checkpoints(checkpoints), method, "method")
    z0, theta, ts, n_steps = _validated(f, z0, theta, ts, n_steps)
    if method == "backprop":
        _checks.check_backprop_memory(z0, len(ts) - 1, n_steps, BACKPROP_MEMORY_LIMIT)
        pullback, zs = make_vjp(integrate, argnum=(1, 2, 3))(f, z0, theta, ts, n_steps)
    else:
        zs = integrate(f, z0, theta, ts, n_steps)
    value, dL_dzs = _loss_and_gradient(loss, zs)
    for t, dL_dz in zip(ts, dL_dzs):
        _checks.check_finite_state(dL_dz, t, "backward", "the loss gradient ∂L/∂z")
    if method == "adjoint":
        g_z0, g_theta, g_ts = adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs, checkpoints=checkpoints)
    elif method == "discrete_adjoint":
        g_z0, g_theta, g_ts = discrete_adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs)
    elif method == "backprop":
        with np.errstate(over="ignore", invalid="ignore"):  # _checks.finite_state reports it, with the time
            g_z0, g_theta, g_ts = pullback(dL_dzs)
    elif method == "forward_sensitivity":
        g_z0, g_theta, g_ts = forward_sensitivity_gradients(f, z0, theta, ts, n_steps, dL_dzs)
    else:
        g_z0, g_theta, g_ts = finite_difference_gradients(f, z0, theta, ts, n_steps, dL_dzs)
    _checks.check_finite_gradients(method, z0=g_z0, theta=g_theta, ts=g_ts)
    as_theta = _checks.unravel_like(_checks.ravel_tree(g_theta), theta)
    return Gradients(value, np.asarray(g_z0, dtype=np.float64), as_theta, np.asarray(g_ts, dtype=np.float64))
