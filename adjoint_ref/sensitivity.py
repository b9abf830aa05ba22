"""Forward sensitivities: the "hard" Jacobian dz(t)/dθ of eq. (10), integrated forwards alongside z.

S(t) = dz(t)/dθ solves the variational equation

    dS/dt = ∂f/∂z S + ∂f/∂θ,   S(t0) = 0,

and, in the same matrix, dz(t)/dz0 solves dS/dt = ∂f/∂z S with S(t0) = I. So S = [dz/dz0, dz/dθ]
has one column per entry of z0 and of θ, and starts as [I, 0]. This is the expensive route the
adjoint avoids: S holds size(z)·(size(z0) + size(θ)) numbers, so memory and work grow with the
number of parameters (a network with a million weights needs a million columns), while the adjoint
carries one vector λ of the size of z.

[z, S] is integrated as one flat state with the same RK4 (`rk4.solve_interval`). The classical
Runge–Kutta method commutes with differentiation, so this S is the exact derivative of the discrete
RK4 solution: its dL/dz0 and dL/dθ equal backprop's up to round-off.
"""
from collections import namedtuple

import numpy as np

from ._impl import tree
from ._impl.fast_vjp import vjp_of
from ._impl.memory import check_sensitivity_memory
from .rk4 import interval_steps, same_shape, solve_interval


def sensitivity_dynamics(f, z_shape, n_theta):
    """d/dt [z, S] = [f, ∂f/∂z S + [0, ∂f/∂θ]] for the flat state [z, S], S = [dz/dz0, dz/dθ] of shape
    (n, n + n_theta), n = size of z.

    The Jacobian rows are n vector–Jacobian products e_k [∂f/∂z, ∂f/∂θ, ∂f/∂t] (n = size of z) from
    one autograd trace of f per call (`fast_vjp.vjp_of`, the adjoint's own stage).
    """
    n = int(np.prod(z_shape))
    vjp_of_f = vjp_of(f)
    basis = np.eye(n).reshape((n,) + tuple(z_shape))

    def ds_dt(s, theta, t):
        z = s[:n].reshape(z_shape)
        dz_dt, pullback = vjp_of_f(z, theta, t)
        same_shape(dz_dt, z)
        rows = [pullback(e) for e in basis]  # row k: e_k ∂f/∂z, e_k ∂f/∂θ, e_k ∂f/∂t
        dS_dt = np.reshape([np.ravel(row[0]) for row in rows], (n, n)) @ s[n:].reshape(n, n + n_theta)
        dS_dt[:, n:] += np.reshape([row[1] for row in rows], (n, n_theta))
        return np.concatenate([np.ravel(dz_dt), np.ravel(dS_dt)])

    return ds_dt


Sensitivities = namedtuple("Sensitivities", ["t", "z", "S"])
Sensitivities.__doc__ = """The forward solve with its sensitivities on the RK4 grid: row r holds time t[r], z (flat)
and S = [dz/dz0, dz/dθ] there; the rows are ts[0] and the end of every RK4 step."""


def forward_sensitivities(f, z0, theta, ts, n_steps, trace=False):
    """z(ts[i]) (flat) and S(ts[i]) = [dz/dz0, dz/dθ](ts[i]) at every observation time.

    Returns (zs, Ss) of shapes (len(ts), n) and (len(ts), n, n + size(θ)), n = size of z0; with
    trace=True instead `Sensitivities` at ts[0] and after every RK4 step.
    """
    n = z0.size
    n_theta = tree.size(theta)
    ds_dt = sensitivity_dynamics(f, z0.shape, n_theta)
    s = np.concatenate([np.ravel(z0), np.ravel(np.eye(n, n + n_theta))])
    states, trajectory = [s], [(ts[0], s)] if trace else None
    for t_start, t_end, steps in zip(ts[:-1], ts[1:], interval_steps(n_steps, len(ts) - 1)):
        s = solve_interval(ds_dt, s, theta, t_start, t_end, steps, record=trajectory)
        states.append(s)
    if trace:
        rows = np.array([state for _, state in trajectory])
        return Sensitivities(np.array([t for t, _ in trajectory]), rows[:, :n], rows[:, n:].reshape(-1, n, n + n_theta))
    states = np.array(states)
    return states[:, :n], states[:, n:].reshape(len(ts), n, n + n_theta)


def solve(f, z0, theta, ts, n_steps):
    """The gradient method "forward_sensitivity": zs and S = [dz/dz0, dz/dθ] integrated forwards
    together, and a pullback ∂L/∂zs ↦ (dL/dz0, dL/dθ flat, dL/dts) that contracts ∂L/∂z(t_i) with S(t_i):
    dL/dp = Σ_i ∂L/∂z(t_i) · S(t_i). Refused (`memory.MemoryLimitError`) before any work if S would
    not fit in `memory.MEMORY_LIMIT`.

    Time gradients, from the same S (the convention of `adjoint.adjoint_gradients`):
      dL/dt_i = ∂L/∂z(t_i) · f(z(t_i), θ, t_i) for i ≥ 1;
      dL/dt_0 = −Σ_{i≥1} ∂L/∂z(t_i) · dz(t_i)/dz0 · f(z0, θ, t0) (placing z0 at a later t0 is, to
      first order, starting from z0 − f(z0, θ, t0) dt0 at the old t0).
    """
    check_sensitivity_memory(z0, theta, ts)
    zs, Ss = forward_sensitivities(f, z0, theta, ts, n_steps)
    n = z0.size
    zs = zs.reshape((len(ts),) + z0.shape)

    def pullback(dL_dzs):
        dL_dzs = np.reshape(dL_dzs, (len(ts), n))
        g = np.einsum("in,inp->p", dL_dzs, Ss)
        dz_dts = [np.ravel(f(z, theta, t)) for z, t in zip(zs, ts)]
        g_ts = np.array([-np.vdot(g[:n] - dL_dzs[0], dz_dts[0])] +
                        [np.vdot(g_i, dz_dt) for g_i, dz_dt in zip(dL_dzs[1:], dz_dts[1:])])
        return g[:n].reshape(z0.shape), g[n:], g_ts

    return zs, pullback
