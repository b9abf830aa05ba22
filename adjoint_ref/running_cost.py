"""Running costs: L = loss(zs) + ∫_{t0}^{t_N} g(z(t), θ, t) dt, by every gradient method.

The integral is computed as one more state component: q(t0) = 0, dq/dt = g(z, θ, t), integrated by
the same RK4 steps as z, so that q(t_N) is a quadrature of order 4 on the solver's own grid (for a g
of t alone it is Simpson's rule on the half-steps). Backprop, finite differences,
forward sensitivities and the discrete adjoint then differentiate exactly that number, by running on
the extended state [z, q] with the loss loss(zs) + q(t_N).

The continuous adjoint instead adds the running cost's gradient to its equations (`adjoint.with_running_cost`):
dλ/dt = −λ ∂f/∂z − ∂g/∂z, da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ, and dL/dt_N gains g(z(t_N), θ, t_N). It agrees
with the others to O(h⁴), like every continuous-adjoint gradient.
"""
import functools

import autograd.numpy as anp
import numpy as np

from .adjoint import adjoint_gradients
from .methods import METHODS
from .rk4 import integrate


def with_cost(f, g, z_shape):
    """The dynamics of the flat extended state Z = [z, q]: dZ/dt = [f(z, θ, t), g(z, θ, t)]."""
    n = int(np.prod(z_shape))

    def extended(Z, theta, t):
        z = anp.reshape(Z[:n], z_shape)
        return anp.concatenate([anp.ravel(f(z, theta, t)), anp.reshape(g(z, theta, t), (1,))])

    return extended


def solve(method, f, g, z0, theta, ts, n_steps, **options):
    """(zs, ∫ g dt, pullback) for the gradient method `method` (a key of `methods.METHODS`).

    zs are RK4's states at ts, ∫ g dt is q(t_N) (module doc), and pullback ∂ℓ/∂zs ↦ (dL/dz0,
    dL/dθ flat, dL/dts) is the gradient of L = ℓ(zs) + ∫ g dt. `options` go to the method.
    """
    n, extended = z0.size, with_cost(f, g, z0.shape)
    Z0 = np.append(np.ravel(z0), 0.0)
    if method == "adjoint":
        Zs = integrate(extended, Z0, theta, ts, n_steps)
        zs = Zs[:, :n].reshape((len(ts),) + z0.shape)
        return zs, Zs[-1, n], functools.partial(adjoint_gradients, f, zs, theta, ts, n_steps, running_loss=g,
                                                **options)
    Zs, extended_pullback = METHODS[method](extended, Z0, theta, ts, n_steps, **options)

    def pullback(dL_dzs):
        dL_dZs = np.zeros(Zs.shape)
        dL_dZs[:, :n] = np.reshape(dL_dzs, (len(ts), n))
        dL_dZs[-1, n] = 1.0  # L = ℓ(zs) + q(t_N)
        g_Z0, g_theta, g_ts = extended_pullback(dL_dZs)
        return np.reshape(g_Z0[:n], z0.shape), g_theta, g_ts

    return Zs[:, :n].reshape((len(ts),) + z0.shape), Zs[-1, n], pullback
