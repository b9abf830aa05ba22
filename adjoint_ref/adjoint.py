"""The continuous adjoint: eqs. (11) and (12) and the time gradients, solved backwards in time.

The seed's row-vector convention is kept: λ has the shape of z, and "λ ∂f/∂z" is the
vector–Jacobian product (λᵀ J)ᵀ, computed by reverse-mode autodiff without forming J.

Backwards from the last observation time the solver carries the augmented state

    s = [z, λ, a_θ, a_t],   ds/dt = [f, −λ ∂f/∂z, −λ ∂f/∂θ, −λ ∂f/∂t],

where a_θ(t) = ∫_t^{t_N} λ ∂f/∂θ dt' (so a_θ(t0) = dL/dθ, eq. 12) and a_t(t) = −λ(t)·f(z(t), θ, t)
(so a_t(t0) = dL/dt0). z is re-integrated backwards alongside λ: nothing between observation
times is stored, so memory does not grow with the number of steps. For strongly contracting
dynamics that backward z is wrong (round-off grows like e^{kT}); with `checkpoints` the backward
pass instead re-integrates z forwards from checkpoints and carries only [λ, a_θ, a_t].
"""
from functools import partial

import numpy as np
from autograd.core import make_vjp
from autograd.extend import defvjp, primitive

from ._checks import ravel_tree, unravel_like
from .rk4 import solve_interval, step_states


@primitive
def _tap(x, start, stop, value):
    """`value`, read as the slice x[start:stop] it was flattened into. Forwards it is the identity
    (x was built from the value, so nothing needs unflattening); backwards it puts the cotangent of
    `value`, flattened, into that slice of a vector shaped like x."""
    return value


def _tap_vjp(ans, x, start, stop, value):
    def vjp(g):
        g_x = np.zeros(x.size)
        g_x[start:stop] = ravel_tree(g)
        return g_x
    return vjp


defvjp(_tap, _tap_vjp)


def stage_vjp(f):
    """(z, θ, t) ↦ (f(z, θ, t), vjp) with vjp(λ) = [λ ∂f/∂z, λ ∂f/∂θ, λ ∂f/∂t] as one flat vector,
    by one make_vjp call: one evaluation of f, then one reverse sweep for all three products.

    This is the hot path. autograd traces f with respect to the flat x = [z, θ, t], which f reads
    through three `_tap`s: tracing a tuple (z, θ, t) instead costs three container nodes whose
    reverse sweep rebuilds zero copies of the whole tuple, and θ's cotangent would still need
    flattening afterwards.
    """
    def f_and_vjp(z, theta, t):
        z_flat, theta_flat = np.ravel(z), ravel_tree(theta)
        n, m = z_flat.size, theta_flat.size

        def f_of_x(x):
            return f(_tap(x, 0, n, z), _tap(x, n, n + m, theta), _tap(x, n + m, n + m + 1, t))

        vjp, dz_dt = make_vjp(f_of_x, np.concatenate([z_flat, theta_flat, [t]]))
        return dz_dt, vjp

    return f_and_vjp


def _adjoint_rates(f_and_vjp, z, lam, theta, t):
    """f(z, θ, t) and the flat vector [−λ ∂f/∂z, −λ ∂f/∂θ, −λ ∂f/∂t]: eq. (11), eq. (12) in
    differential form, and the t-gradient's rate, all from one make_vjp call."""
    dz_dt, vjp = f_and_vjp(z, theta, t)
    return dz_dt, -vjp(lam)


def augmented_dynamics(f, z_shape):
    """Eqs. (11)–(12) and the t-gradient as one ODE for s = [z, λ, a_θ, a_t] (flat vector).

    Eq. (11): dλ/dt = −λ ∂f/∂z.  Eq. (12) in differential form: da_θ/dt = −λ ∂f/∂θ.
    Time gradient: da_t/dt = −λ ∂f/∂t. z itself follows dz/dt = f, integrated backwards.
    """
    n = int(np.prod(z_shape))
    f_and_vjp = stage_vjp(f)

    def ds_dt(s, theta, t):
        z, lam = s[:n].reshape(z_shape), s[n:2 * n].reshape(z_shape)
        dz_dt, rates = _adjoint_rates(f_and_vjp, z, lam, theta, t)
        return np.concatenate([np.ravel(dz_dt), rates])

    return ds_dt


def adjoint_dynamics_along(f, z_shape, z_at):
    """Eqs. (11)–(12) and the t-gradient for s = [λ, a_θ, a_t] alone, along a known trajectory:
    z(t) = z_at(t) comes from a forward re-integration instead of being integrated backwards."""
    n = int(np.prod(z_shape))
    f_and_vjp = stage_vjp(f)

    def ds_dt(s, theta, t):
        return _adjoint_rates(f_and_vjp, z_at(t), s[:n].reshape(z_shape), theta, t)[1]

    return ds_dt


def _backsolve(f, z_start, z_end, adjoint, theta, t_end, t_start, n_steps, record):
    """Carry (λ, a_θ, a_t) from t_end back to t_start, integrating z backwards alongside them."""
    z_shape, n = z_end.shape, z_end.size
    lam, a_theta, a_t = adjoint
    s = np.concatenate([np.ravel(z_end), np.ravel(lam), a_theta, [a_t]])
    steps = None if record is None else []
    s = solve_interval(augmented_dynamics(f, z_shape), s, theta, t_end, t_start, n_steps, "backward", steps)

    def unpack(s):
        return s[:n].reshape(z_shape), s[n:2 * n].reshape(z_shape), s[2 * n:-1], s[-1]

    if record is not None:
        record.extend((t,) + unpack(state) for t, state in steps)
    return unpack(s)[1:]


def segment_bounds(n_steps, checkpoints):
    """Step indices 0 = b_0 < b_1 < … < b_K = n_steps cutting an interval into K near-equal segments
    (K = checkpoints, at most n_steps); a checkpoint keeps z at the first step of each segment."""
    k = min(checkpoints, n_steps)
    return [j * n_steps // k for j in range(k + 1)]


def _checkpointed(f, z_start, z_end, adjoint, theta, t_end, t_start, n_steps, record, checkpoints):
    """Carry (λ, a_θ, a_t) from t_end back to t_start with z recomputed forward from checkpoints.

    The forward pass is run again from z(t_start) to keep z at the start of each of K segments
    (memory O(K)). Then, segment by segment from the last, z is re-integrated forward from its
    checkpoint at half steps (memory O(n_steps / K)), so every RK4 stage of the backward step
    (at t, t − h/2, t − h) finds z(t) stored, and only [λ, a_θ, a_t] is integrated backwards.
    """
    z_shape, n = z_start.shape, z_start.size
    h = (t_end - t_start) / n_steps
    bounds = segment_bounds(n_steps, checkpoints)
    times = [t_start + b * h for b in bounds[:-1]] + [t_end]
    kept = [z_start]
    for j in range(len(bounds) - 2):
        kept.append(solve_interval(f, kept[-1], theta, times[j], times[j + 1], bounds[j + 1] - bounds[j]))
    lam, a_theta, a_t = adjoint
    s = np.concatenate([np.ravel(lam), a_theta, [a_t]])
    for j in range(len(bounds) - 2, -1, -1):
        m, t_a = bounds[j + 1] - bounds[j], times[j]
        zs_half = step_states(f, kept[j], theta, t_a, times[j + 1], 2 * m)
        half = (times[j + 1] - t_a) / (2 * m)

        def z_at(t):
            return zs_half[int(round((t - t_a) / half))]

        steps = None if record is None else []
        s = solve_interval(adjoint_dynamics_along(f, z_shape, z_at), s, theta, times[j + 1], t_a, m,
                           "backward", steps)
        if record is not None:
            record.extend((t, z_at(t), state[:n].reshape(z_shape), state[n:-1], state[-1])
                          for t, state in steps)
    return s[:n].reshape(z_shape), s[n:-1], s[-1]


def adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs, record=None, checkpoints=None):
    """Eqs. (11)–(12): dL/dz0, dL/dθ and dL/dts by solving the adjoint system from ts[-1] to ts[0].

    zs are the forward states at the observation times, dL_dzs = ∂L/∂zs (same shape).
    λ(t_N) = ∂L/∂z(t_N); at each earlier observation time t_i, λ jumps by ∂L/∂z(t_i).

    Time-gradient convention (derived, and checked against finite differences in the tests):
      dL/dt_i = ∂L/∂z(t_i) · f(z(t_i), θ, t_i)  for i ≥ 1  (moving t_i moves where z is observed);
      dL/dt_0 = −λ(t_0⁺) · f(z0, θ, t_0) = −λ(t_N)·f(z(t_N), θ, t_N) − ∫_{t_N}^{t_0} λ ∂f/∂t dt
      (with the jumps), where λ(t_0⁺) excludes ∂L/∂z(t_0). The seed's comment writes
      dL/dt0 = dL/dt_N + ∫_{t_N}^{t_0} λ ∂f/∂t dt, which is the negative of this: it equals λ(t0)·f.
    Returns (dL_dz0, dL_dtheta, dL_dts); dL_dtheta has the container structure of θ.
    If `record` is a list, the backward trajectory is appended to it as (t, z, λ, a_θ, a_t)
    tuples (a_θ flat): one per RK4 step, plus one after each jump of λ at an observation time.

    checkpoints=None integrates z backwards with λ ("backsolve"): no memory, but for strongly
    contracting dynamics the backward z drifts off the forward one like e^{kT} and the gradient
    is wrong. checkpoints=K instead re-integrates z forwards from K checkpoints per observation
    interval (memory O(K + n_steps/K); see `_checkpointed`).
    """
    lam = dL_dzs[-1]
    a_theta = np.zeros(ravel_tree(theta).size)
    dL_dts = np.zeros(len(ts))
    dL_dts[-1] = np.vdot(lam, f(zs[-1], theta, ts[-1]))
    a_t = -dL_dts[-1]
    if record is not None:
        record.append((ts[-1], zs[-1], lam, a_theta, a_t))
    backwards = _backsolve if checkpoints is None else partial(_checkpointed, checkpoints=checkpoints)
    for i in range(len(ts) - 1, 0, -1):
        lam, a_theta, a_t = backwards(f, zs[i - 1], zs[i], (lam, a_theta, a_t), theta, ts[i], ts[i - 1],
                                      n_steps, record)
        if i - 1 > 0:  # the jump at an intermediate observation time
            dL_dts[i - 1] = np.vdot(dL_dzs[i - 1], f(zs[i - 1], theta, ts[i - 1]))
            a_t -= dL_dts[i - 1]
        lam = lam + dL_dzs[i - 1]
        if record is not None:
            record.append((ts[i - 1], zs[i - 1], lam, a_theta, a_t))
    dL_dts[0] = a_t
    return lam, unravel_like(a_theta, theta), dL_dts
