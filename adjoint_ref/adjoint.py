"""The continuous adjoint: eqs. (11) and (12) and the time gradients, solved backwards in time.

The seed's row-vector convention is kept: λ has the shape of z, and "λ ∂f/∂z" is the
vector–Jacobian product (λᵀ J)ᵀ, computed by reverse-mode autodiff without forming J.

Backwards from the last observation time the solver carries the augmented state

    s = [z, λ, a_θ, a_t],   ds/dt = [f, −λ ∂f/∂z, −λ ∂f/∂θ, −λ ∂f/∂t],

where a_θ(t) = ∫_t^{t_N} λ ∂f/∂θ dt' (so a_θ(t0) = dL/dθ, eq. 12) and a_t(t) = −λ(t)·f(z(t), θ, t)
(so a_t(t0) = dL/dt0). z is re-integrated backwards alongside λ: nothing between observation
times is stored, so memory does not grow with the number of steps.
"""
import numpy as np
from autograd import make_vjp

from ._checks import ravel_tree, unravel_like
from .rk4 import solve_interval


def augmented_dynamics(f, z_shape):
    """Eqs. (11)–(12) and the t-gradient as one ODE for s = [z, λ, a_θ, a_t] (flat vector).

    Eq. (11): dλ/dt = −λ ∂f/∂z.  Eq. (12) in differential form: da_θ/dt = −λ ∂f/∂θ.
    Time gradient: da_t/dt = −λ ∂f/∂t. One make_vjp call evaluates f and gives all three
    vector–Jacobian products from a single reverse sweep.
    """
    n = int(np.prod(z_shape))
    f_and_vjp = make_vjp(f, argnum=(0, 1, 2))

    def ds_dt(s, theta, t):
        z, lam = s[:n].reshape(z_shape), s[n:2 * n].reshape(z_shape)
        vjp, dz_dt = f_and_vjp(z, theta, t)
        lam_df_dz, lam_df_dtheta, lam_df_dt = vjp(lam)
        return np.concatenate([np.ravel(dz_dt), -np.ravel(lam_df_dz),
                               -ravel_tree(lam_df_dtheta), [-lam_df_dt]])

    return ds_dt


def adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs, record=None):
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
    """
    z_shape, n = zs[0].shape, zs[0].size
    n_theta = ravel_tree(theta).size
    ds_dt = augmented_dynamics(f, z_shape)
    lam = dL_dzs[-1]
    a_theta = np.zeros(n_theta)
    dL_dts = np.zeros(len(ts))
    dL_dts[-1] = np.vdot(lam, f(zs[-1], theta, ts[-1]))
    a_t = -dL_dts[-1]
    steps = None if record is None else []

    def unpack(s):
        return s[:n].reshape(z_shape), s[n:2 * n].reshape(z_shape), s[2 * n:-1], s[-1]

    if record is not None:
        record.append((ts[-1], zs[-1], lam, a_theta, a_t))
    for i in range(len(ts) - 1, 0, -1):
        s = np.concatenate([np.ravel(zs[i]), np.ravel(lam), a_theta, [a_t]])
        s = solve_interval(ds_dt, s, theta, ts[i], ts[i - 1], n_steps, "backward", steps)
        _, lam, a_theta, a_t = unpack(s)
        if i - 1 > 0:  # the jump at an intermediate observation time
            dL_dts[i - 1] = np.vdot(dL_dzs[i - 1], f(zs[i - 1], theta, ts[i - 1]))
            a_t -= dL_dts[i - 1]
        lam = lam + dL_dzs[i - 1]
        if record is not None:
            record.extend((t,) + unpack(s) for t, s in steps)
            record.append((ts[i - 1], zs[i - 1], lam, a_theta, a_t))
            steps.clear()
    dL_dts[0] = a_t
    return lam, unravel_like(a_theta, theta), dL_dts
