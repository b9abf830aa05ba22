"""Reversible Heun (`solver="reversible_heun"`): a solver whose step can be undone, so that its exact
gradient needs no stored states.

Kidger, Foster, Li & Lyons (2021), "Efficient and accurate gradients for neural SDEs", applied here to
ODEs. The solver carries two copies of the state, z and an auxiliary ẑ, and F = f(ẑ, θ, t). One step
of size h from t to t' = t + h (one evaluation of f):

    ẑ' = 2 z − ẑ + h F,     F' = f(ẑ', θ, t'),     z' = z + (h/2) (F + F')          (RH1)

started from ẑ_0 = z_0, F_0 = f(z_0, θ, t_0). Given (z', ẑ', F') the step can be solved for (z, ẑ, F)
in closed form, again with one evaluation of f (`inverse_step`):

    ẑ = 2 z' − ẑ' − h F',   F = f(ẑ, θ, t),     z = z' − (h/2) (F + F')             (RH2)

(substitute z from the third equation of (RH1) into its first). The gradient method "adjoint" is the
discrete adjoint of (RH1) — the exact gradient of the computed zs, what backprop through the solver
gives — computed from the last step back while (RH2) rebuilds each earlier state from the final one:
memory independent of the number of steps, and the rebuilt states are the forward states up to
round-off, not up to a truncation error as in the continuous adjoint's backward integration.

The method is of order 2, and its caveat is stability: a linear step multiplies (z, ẑ) by a matrix with
determinant −1, so one of its two modes grows whenever the other decays. The solver is stable only on
the segment [−i, i] of the imaginary axis (h·eigenvalue); on a decaying mode e^{−ct} the parasitic mode
grows like e^{ct} — as fast as integrating the flow backwards (derivation/README.md, "Reversible Heun").

Its table of gradient methods is `methods.REVERSIBLE_METHODS` (n_steps equal steps per observation
interval, as RK4).
"""
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from ._impl import tree
from ._impl.fast_vjp import vjp_of
from .rk4 import finite_state


def step(f, z, z_hat, F, theta, t_next, h):
    """One reversible Heun step (RH1) ending at time t_next: (z, ẑ, F) ↦ (z', ẑ', F')."""
    z_hat_next = 2 * z - z_hat + h * F
    F_next = f(z_hat_next, theta, t_next)
    return z + (h / 2) * (F + F_next), z_hat_next, F_next


def inverse_step(f, z_next, z_hat_next, F_next, theta, t, h):
    """The step (RH1) undone, (RH2): (z', ẑ', F') ↦ (z, ẑ, F), the step having started at time t."""
    z_hat = 2 * z_next - z_hat_next - h * F_next
    F = f(z_hat, theta, t)
    return z_next - (h / 2) * (F + F_next), z_hat, F


def step_time(t_start, t_end, h, k, n_steps):
    """t_k = t_start + k h on an interval of n_steps steps, with t_{n_steps} = t_end exactly (so the F
    carried into the next interval was evaluated at its start time)."""
    return t_end if k == n_steps else t_start + k * h


def solve(f, z0, theta, ts, n_steps):
    """(zs, the final state (z, ẑ, F)): (RH1) with n_steps steps on each observation interval.

    Differentiable by autograd (the "backprop" method records it)."""
    state = (z0, z0, f(z0, theta, ts[0]))
    zs = [z0]
    with np.errstate(over="ignore", invalid="ignore"):
        for t_start, t_end in zip(ts[:-1], ts[1:]):
            h = (t_end - t_start) / n_steps
            for k in range(n_steps):
                z, z_hat, F = step(f, *state, theta, step_time(t_start, t_end, h, k + 1, n_steps), h)
                state = (finite_state(z, getval(t_start + (k + 1) * h), "forward"), z_hat, F)
            zs.append(state[0])
    return anp.stack(zs), state


def integrate(f, z0, theta, ts, n_steps):
    """zs[i] = z(ts[i]) by reversible Heun: the forward pass, like `rk4.integrate`."""
    return solve(f, z0, theta, ts, n_steps)[0]


def step_transpose(pullback_next, F, F_next, h, lam, lam_hat, phi):
    """The transpose of one step (RH1): the cotangents (λ', λ̂', φ') of (z', ẑ', F') ↦ those of (z, ẑ, F),
    and the step's λ ∂/∂θ (flat), ∂/∂t' and ∂/∂h.

    pullback_next is f's pullback at (ẑ', t'). From the last equation of (RH1) back to the first:
    F' receives φ' + (h/2) λ', which f's pullback carries to ẑ', θ and t'; then z receives λ' + 2 λ̂'',
    ẑ receives −λ̂'' and F receives (h/2) λ' + h λ̂'', λ̂'' the total cotangent of ẑ'.
    """
    g_z, g_theta, g_t = pullback_next(phi + (h / 2) * lam)
    lam_hat = lam_hat + g_z
    lam_h = np.vdot(lam, (F + F_next) / 2) + np.vdot(lam_hat, F)
    return (lam + 2 * lam_hat, -lam_hat, (h / 2) * lam + h * lam_hat), g_theta, g_t, lam_h


def adjoint_gradients(f, zs, final, theta, ts, n_steps, dL_dzs):
    """dL/dz0, dL/dθ (flat), dL/dts of the reversible Heun solution zs, exactly (its discrete adjoint).

    Starting from the final state (z, ẑ, F), each step is transposed (`step_transpose`) and then undone
    (`inverse_step`, which evaluates f at the earlier ẑ by the make_vjp whose pullback the next
    transposition uses: one f and one VJP per step). λ jumps by ∂L/∂z(t_i) at each observation time.
    Only the current state is held: memory independent of n_steps.
    """
    vjp_of_f = vjp_of(f)
    (z, z_hat, _), (t_last, n) = final, (ts[-1], n_steps)
    F, pullback = vjp_of_f(z_hat, theta, t_last)
    cotangents = (dL_dzs[-1], np.zeros_like(z), np.zeros_like(z))
    dL_dtheta, dL_dts = np.zeros(tree.size(theta)), np.zeros(len(ts))
    for i in range(len(ts) - 1, 0, -1):
        h, dL_dh = (ts[i] - ts[i - 1]) / n, 0.0
        for k in range(n - 1, -1, -1):  # the step from t_k to t_{k+1}
            t_k = step_time(ts[i - 1], ts[i], h, k, n)
            z_hat_k = 2 * z - z_hat - h * F
            F_k, pullback_k = vjp_of_f(z_hat_k, theta, t_k)
            cotangents, g_theta, g_t, lam_h = step_transpose(pullback, F_k, F, h, *cotangents)
            dL_dtheta += g_theta
            if k + 1 == n:
                dL_dts[i] += g_t
            else:  # t_{k+1} = t_{i−1} + (k + 1) h
                dL_dts[i - 1] += g_t
                dL_dh += (k + 1) * g_t
            dL_dh += lam_h
            z, z_hat, F, pullback = z - (h / 2) * (F_k + F), z_hat_k, F_k, pullback_k
        dL_dts[i - 1] -= dL_dh / n  # h = (t_i − t_{i−1}) / n
        dL_dts[i] += dL_dh / n
        cotangents = (cotangents[0] + dL_dzs[i - 1],) + cotangents[1:]
    lam, lam_hat, phi = cotangents
    g_z, g_theta, g_t = pullback(phi)  # F_0 = f(z_0, θ, t_0), and ẑ_0 = z_0
    dL_dts[0] += g_t
    return lam + lam_hat + g_z, dL_dtheta + g_theta, dL_dts
