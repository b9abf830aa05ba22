"""The forward pass, eq. (3): z(t1) = z(t0) + ∫ f(z, θ, t) dt, by the classical Runge–Kutta method.

A fixed number of equal steps on each observation interval keeps the discrete solution a smooth
function of the observation times, so it can be differentiated (and finite-differenced) in t.
Everything here is written with `autograd.numpy`, so autograd can backpropagate through it.
"""
import autograd.numpy as anp
import numpy as np
from autograd.extend import defjvp, defvjp, primitive
from autograd.tracer import getval

from ._impl.validate import add_note, check_finite_state


def rk4_step(f, z, theta, t, h):
    """One classical RK4 step of dz/dt = f(z, θ, t) from t to t + h (h may be negative).

    k1 = f(z, θ, t), k2 = f(z + h/2 k1, θ, t + h/2), k3 = f(z + h/2 k2, θ, t + h/2),
    k4 = f(z + h k3, θ, t + h); z(t + h) ≈ z + h/6 (k1 + 2 k2 + 2 k3 + k4).
    """
    k1 = same_shape(f(z, theta, t), z)
    k2 = same_shape(f(z + (h / 2) * k1, theta, t + h / 2), z)
    k3 = same_shape(f(z + (h / 2) * k2, theta, t + h / 2), z)
    k4 = same_shape(f(z + h * k3, theta, t + h), z)
    return z + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


def same_shape(dz, z):
    """dz, if it has the shape of z; else a ValueError (an f whose result changes shape after its
    first, checked call would otherwise be broadcast against z without a word)."""
    if anp.shape(dz) != anp.shape(z):
        raise ValueError(f"f returned shape {anp.shape(dz)} but z has shape {anp.shape(z)}; f(z, theta, t) "
                         "must return dz/dt with the shape of z at every call")
    return dz


@primitive
def finite_state(z, t, which):
    """z itself, once checked to be finite at time t of the `which` pass. When autograd
    differentiates through it (backprop), the gradient dL/dz(t) flowing back is checked too, so
    a NaN or overflow in backprop's backward pass is reported with its time; in forward mode the
    tangent passes through unchanged."""
    check_finite_state(z, t, which)
    return z


def _finite_state_vjp(ans, z, t, which):
    def vjp(g):
        check_finite_state(g, t, "backward", "the gradient dL/dz")
        return g
    return vjp


defvjp(finite_state, _finite_state_vjp)
defjvp(finite_state, lambda tangent, ans, z, t, which: tangent)


def solve_interval(f, z, theta, t_start, t_end, n_steps, which="forward", record=None):
    """Eq. (3) on one interval: n_steps RK4 steps of dz/dt = f from t_start to t_end.

    `which` ("forward" or "backward") only names the pass in the FloatingPointError raised
    when the state stops being finite. If `record` is a list, (t, z) after every step is
    appended to it (for plots and teaching; it costs memory proportional to n_steps).
    An exception raised inside a step (by f, say) gets a note naming the step's times and the pass.
    """
    h = (t_end - t_start) / n_steps
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(n_steps):
            t = t_start + k * h
            try:
                z = rk4_step(f, z, theta, t, h)
            except Exception as err:
                add_note(err, f"raised in the RK4 step from t={float(getval(t)):.6g} to "
                              f"t={float(getval(t + h)):.6g} during the {which} pass")
                raise
            z = finite_state(z, getval(t + h), which)
            if record is not None:
                record.append((t + h, z))
    return z


def interval_steps(n_steps, intervals):
    """(n_1, …, n_N): the RK4 steps of each of the N observation intervals, from n_steps given as one
    integer (the same on every interval) or as one integer per interval."""
    return tuple(n_steps) if isinstance(n_steps, (tuple, list)) else (n_steps,) * intervals


def integrate(f, z0, theta, ts, n_steps, record=None):
    """Eq. (3) at every observation time: zs[i] = z(ts[i]), with zs[0] = z0.

    n_steps: RK4 steps per interval, one integer or one per interval (`interval_steps`).
    Returns an array of shape (len(ts),) + z0.shape. Differentiable by autograd (this is the
    "backprop" gradient: autograd records every RK4 stage). `record` is passed to solve_interval.
    """
    zs = [z0]
    for t_start, t_end, n in zip(ts[:-1], ts[1:], interval_steps(n_steps, len(ts) - 1)):
        zs.append(solve_interval(f, zs[-1], theta, t_start, t_end, n, record=record))
    return anp.stack(zs)


def step_states(f, z, theta, t_start, t_end, n_steps):
    """[z_0 = z, z_1, …, z_n]: the state after every RK4 step of `solve_interval` on one interval.

    Memory proportional to n_steps."""
    trajectory = []
    solve_interval(f, z, theta, t_start, t_end, n_steps, record=trajectory)
    return [z] + [state for _, state in trajectory]
