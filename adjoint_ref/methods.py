"""The gradient methods, in one table.

Every method has the same signature, that of autograd's `make_vjp`:

    zs, pullback = METHODS[name](f, z0, theta, ts, n_steps, **options)
    dL_dz0, dL_dtheta_flat, dL_dts = pullback(dL_dzs)

zs = z(ts[i]) from the forward pass (eq. 3), and pullback turns ∂L/∂zs into the gradients, dL/dθ as
one flat vector in `tree.ravel_tree` order. `gradients`, `check`, `equations` and `bench` all go
through this table; a new method is one more entry.
"""
import numpy as np
from autograd import make_vjp

from . import adjoint, discrete_adjoint, finite_differences, sensitivity
from ._impl.memory import check_backprop_memory
from .rk4 import integrate
from ._impl.tree import ravel_tree


def backprop(f, z0, theta, ts, n_steps):
    """The gradient method "backprop": autograd records every RK4 stage of the forward pass and
    reverses the recording (memory grows with n_steps; guarded by `memory.check_backprop_memory`)."""
    check_backprop_memory(f, z0, theta, ts, n_steps)
    return recorded(integrate, f, z0, theta, ts, n_steps)


def recorded(integrate, f, z0, theta, ts, grid):
    """(zs, pullback) of zs = integrate(f, z0, θ, ts, grid), recorded by autograd: the pullback reverses
    the recording and returns (dL/dz0, dL/dθ flat, dL/dts). Backprop for any solver."""
    vjp, zs = make_vjp(integrate, argnum=(1, 2, 3))(f, z0, theta, ts, grid)

    def pullback(dL_dzs):
        with np.errstate(over="ignore", invalid="ignore"):  # rk4.finite_state reports it, with the time
            g_z0, g_theta, g_ts = vjp(dL_dzs)
        return g_z0, ravel_tree(g_theta), g_ts

    return zs, pullback


METHODS = {
    "adjoint": adjoint.solve,  # eqs. (11)–(12) backwards in time; options: checkpoints=K
    "backprop": backprop,
    "finite_differences": finite_differences.solve,
    "forward_sensitivity": sensitivity.solve,
    "discrete_adjoint": discrete_adjoint.solve,
}
