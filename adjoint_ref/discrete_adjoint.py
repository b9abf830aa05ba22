"""The discrete adjoint of RK4 ("discretise, then optimise"): the exact gradient of the computed zs.

The continuous adjoint (adjoint.py) applies the post's Lagrange-multiplier argument to the ODE (1)
and only then discretises: it solves the adjoint ODE (11)–(12) with its own RK4 steps ("optimise,
then discretise"), so it gives the gradient of the exact flow up to RK4's O(h⁴) error — not the
gradient of the numbers the forward pass actually produced.

Here the same argument is applied to the RK4 recursion itself. Each step is a constraint
z_{k+1} − Φ(z_k, θ, t_k, h) = 0; give it a multiplier λ_{k+1} and subtract the sum from L (the
discrete form of the Lagrangian (4)). Choosing λ_k = λ_{k+1} ∂Φ/∂z_k, with λ_N = ∂L/∂z_N, cancels
every dz_k/dθ (the discrete form of (11)) and leaves dL/dθ = Σ_k λ_{k+1} ∂Φ/∂θ (of (12)). The
products λ ∂Φ/∂· are the transpose of one RK4 step, worked out stage by stage in reverse with one
VJP of f per stage. The result is what backprop through the solver computes, to round-off, but
only the step states z_k of one observation interval are stored, not autograd's graph.

Euler first (derivation/README.md, "Euler first"): for forward Euler, z_{k+1} = z_k + h f(z_k, θ, t_k),
a residual block of a ResNet, the same choice gives λ_k = λ_{k+1} + h λ_{k+1} ∂f/∂z(z_k): backprop
through the ResNet, in two lines (`euler_step_transpose`). For any one-step method Φ the discrete
multipliers λ_k and a perturbation δz_k carried forwards by δz_{k+1} = ∂Φ/∂z_k δz_k keep λ_k·δz_k
exactly constant from step to step (Sanz-Serna 2016): `step_multipliers`, `step_tangents`, `pairings`.
"""
import numpy as np
from autograd import make_jvp, make_vjp

from ._impl import tree
from ._impl.fast_vjp import vjp_of
from ._impl.memory import check_stored_states
from .rk4 import integrate, interval_steps, step_states
from .tableau import RK4

# Classical RK4 (`tableau.RK4`): stage i is evaluated at (z + A[i] h k_{i−1}, t + C[i] h), each stage
# reading only the one before it, and the step is z + h Σ B[i] k_i. The products below match
# `rk4.rk4_step` exactly (h/2 = 0.5 h in floats).
A = (0.0,) + tuple(row[-1] for row in RK4.A[1:])
C, B = RK4.c, RK4.b


def step_transpose(vjp_of_f, z, theta, t, h, lam):
    """The transpose of one RK4 step z' = Φ(z, θ, t, h): λ' ↦ (λ' ∂Φ/∂z, λ' ∂Φ/∂θ, λ' ∂Φ/∂t, λ' ∂Φ/∂h).

    The stages are recomputed forwards, each with its pullback (`fast_vjp.vjp_of`), then their VJPs
    are applied from the last stage to the first; λ' ∂Φ/∂θ comes back flat.
    """
    stages, pullbacks = [], []
    for i in range(4):
        y = z if i == 0 else z + (A[i] * h) * stages[-1]
        k, pullback = vjp_of_f(y, theta, t + C[i] * h)
        stages.append(k)
        pullbacks.append(pullback)
    lam_z, lam_theta, lam_t = lam, 0.0, 0.0
    lam_h = np.vdot(lam, sum(b * k for b, k in zip(B, stages)))
    lam_k = [(b * h) * lam for b in B]  # cotangents of the stages k_i
    for i in range(3, -1, -1):
        g_y, g_theta, g_t = pullbacks[i](lam_k[i])  # λ ∂f/∂y, λ ∂f/∂θ, λ ∂f/∂t at stage i
        lam_theta = lam_theta + g_theta
        lam_t += g_t
        lam_h += C[i] * g_t
        lam_z = lam_z + g_y
        if i > 0:  # y_i = z + A[i] h k_{i−1}
            lam_k[i - 1] = lam_k[i - 1] + (A[i] * h) * g_y
            lam_h += A[i] * np.vdot(g_y, stages[i - 1])
    return lam_z, lam_theta, lam_t, lam_h


def discrete_adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs):
    """dL/dz0, dL/dθ (flat) and dL/dts of the RK4 solution zs (as computed by `rk4.integrate`), exactly.

    Interval by interval from the last, the step states z_k are recomputed from zs[i−1] and the
    steps transposed in reverse (`step_transpose`); λ jumps by ∂L/∂z(t_i) at each observation time.
    The step times t_k = t_{i−1} + k h with h = (t_i − t_{i−1})/n_i carry the time gradients (n_steps:
    one integer, or one n_i per interval).
    Returns (dL_dz0, dL_dtheta, dL_dts) like `adjoint.adjoint_gradients`, which solves the
    continuous adjoint equations (11)–(12) instead and so differs from this by O(h⁴) (module doc).
    """
    vjp_of_f = vjp_of(f)
    lam = dL_dzs[-1]
    dL_dtheta = np.zeros(tree.size(theta))
    dL_dts = np.zeros(len(ts))
    for i, n_steps in reversed(list(enumerate(interval_steps(n_steps, len(ts) - 1), start=1))):
        t_start, h = ts[i - 1], (ts[i] - ts[i - 1]) / n_steps
        states = step_states(f, zs[i - 1], theta, ts[i - 1], ts[i], n_steps)
        dL_dh = 0.0
        for k in range(n_steps - 1, -1, -1):
            lam, lam_theta, lam_t, lam_h = step_transpose(vjp_of_f, states[k], theta, t_start + k * h, h, lam)
            dL_dtheta += lam_theta
            dL_dts[i - 1] += lam_t  # ∂t_k/∂t_{i−1} = 1 at fixed h
            dL_dh += lam_h + k * lam_t  # ∂t_k/∂h = k
        dL_dts[i - 1] -= dL_dh / n_steps  # ∂h/∂t_{i−1} = −1/n_steps
        dL_dts[i] += dL_dh / n_steps
        lam = lam + dL_dzs[i - 1]
    return lam, dL_dtheta, dL_dts


def solve(f, z0, theta, ts, n_steps):
    """The gradient method "discrete_adjoint": zs by RK4 and a pullback that transposes its steps
    (it stores the n_steps + 1 step states of one interval: refused beyond `memory.MEMORY_LIMIT`)."""
    check_stored_states(z0, max(interval_steps(n_steps, len(ts) - 1)) + 1, f"the discrete adjoint with n_steps={n_steps}",
                        "Use the adjoint with checkpoints (memory O(√n_steps)) or fewer steps.")
    zs = integrate(f, z0, theta, ts, n_steps)
    return zs, lambda dL_dzs: discrete_adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs)


def euler_step(f, z, theta, t, h):
    """(E1) One forward Euler step, the residual block of a ResNet: z_{k+1} = z_k + h f(z_k, θ, t_k)."""
    return z + h * f(z, theta, t)


def euler_step_transpose(vjp_of_f, z, theta, t, h, lam):
    """(E2) The discrete adjoint of one Euler step: λ_k = λ_{k+1} + h λ_{k+1} ∂f/∂z(z_k, θ, t_k), and the
    step's share of dL/dθ, h λ_{k+1} ∂f/∂θ(z_k, θ, t_k) (flat): backprop through one residual block."""
    lam_fz, lam_ftheta, _ = vjp_of_f(z, theta, t)[1](h * lam)
    return lam + lam_fz, lam_ftheta


def one_step_states(step, f, z0, theta, t0, t1, n_steps):
    """[z_0, …, z_n]: n_steps equal steps of the one-step method `step` (`euler_step`, `rk4.rk4_step`)
    from z0 at t0 to t1."""
    h, states = (t1 - t0) / n_steps, [z0]
    for k in range(n_steps):
        states.append(step(f, states[-1], theta, t0 + k * h, h))
    return states


def step_multipliers(step, f, states, theta, t0, t1, lam_n):
    """[λ_0, …, λ_n] of the one-step method `step` from λ_n = ∂L/∂z_n: λ_k = λ_{k+1} ∂Φ/∂z_k, one VJP of
    each whole step (autograd's make_vjp), from the last step back."""
    h, lams = (t1 - t0) / (len(states) - 1), [lam_n]
    for k in range(len(states) - 2, -1, -1):
        pullback = make_vjp(lambda z: step(f, z, theta, t0 + k * h, h))(states[k])[0]
        lams.append(pullback(lams[-1]))
    return lams[::-1]


def step_tangents(step, f, states, theta, t0, t1, dz0):
    """[δz_0, …, δz_n]: the perturbation δz_0 = dz0 of z0 carried forwards, δz_{k+1} = ∂Φ/∂z_k δz_k (one JVP
    of each step, autograd's make_jvp): the change of every step state to first order."""
    h, tangents = (t1 - t0) / (len(states) - 1), [dz0]
    for k in range(len(states) - 1):
        tangents.append(make_jvp(lambda z: step(f, z, theta, t0 + k * h, h))(states[k])(tangents[-1])[1])
    return tangents


def pairings(lams, tangents):
    """λ_k·δz_k for every k. With the discrete multipliers it is the same number, δL, at every k, up to
    round-off: λ_k·δz_k = λ_{k+1} ∂Φ/∂z_k δz_k = λ_{k+1}·δz_{k+1} (Sanz-Serna's conservation)."""
    return np.array([np.vdot(lam, dz) for lam, dz in zip(lams, tangents)])
