"""One optimisation, in one place: f and its vector–Jacobian products from a single make_vjp call.

Every backward pass (the continuous adjoint, the discrete adjoint, forward sensitivities) needs, at
each Runge–Kutta stage, f(z, θ, t) and the three products λ ∂f/∂z, λ ∂f/∂θ, λ ∂f/∂t. `vjp_of(f)`
gives them from one evaluation of f and one reverse sweep:

    dz_dt, pullback = vjp_of(f)(z, theta, t)
    lam_fz, lam_ftheta, lam_ft = pullback(lam)     # shaped like z, flat like θ, a float

How. Handing autograd the tuple (z, θ, t) would cost container nodes whose reverse sweep rebuilds
zero copies of all of θ, and λ ∂f/∂θ would still need flattening afterwards. Instead autograd traces
f with respect to one flat vector x = [z, θ, t], and f reads its three arguments through `_tap`:
forwards a tap is the identity on the value it was given (no unflattening); backwards it drops the
cotangent of that value, flattened, into its slice of x.

θ's flat form is computed on the first call of a function `vjp_of(f)` returns and kept while later
calls pass the same θ object; another object is flattened anew. So θ is flattened once per function
built, never once per stage: once per backward pass in the RK4 adjoint (`augmented_dynamics` is built
once; with checkpoints, once per segment), in the discrete adjoint and in forward sensitivities, and in
dopri5's adjoint once per pass plus twice around its initial step-size guess (`adaptive.initial_step` calls f with a copy of θ). Counted by
tests/test_bench.py::test_theta_is_flattened_once_per_interval_at_most_not_once_per_stage.
"""
import numpy as np
from autograd.core import make_vjp
from autograd.extend import defvjp, primitive

from .tree import ravel_tree


@primitive
def _tap(x, start, stop, value):
    """`value`, read as the slice x[start:stop] it was flattened into."""
    return value


def _tap_vjp(ans, x, start, stop, value):
    def vjp(g):
        g_x = np.zeros(x.size)
        g_x[start:stop] = ravel_tree(g)
        return g_x
    return vjp


defvjp(_tap, _tap_vjp)


def vjp_of(f):
    """(z, θ, t) ↦ (f(z, θ, t), pullback) with pullback(λ) = (λ ∂f/∂z, λ ∂f/∂θ flat, λ ∂f/∂t)."""
    flat_theta = [None, None]  # [θ, its flat form]: θ is fixed during a backward pass

    def f_and_pullback(z, theta, t):
        if flat_theta[0] is not theta:
            flat_theta[:] = theta, ravel_tree(theta)
        n, m = z.size, flat_theta[1].size

        def f_of_x(x):
            return f(_tap(x, 0, n, z), _tap(x, n, n + m, theta), _tap(x, n + m, n + m + 1, t))

        vjp, dz_dt = make_vjp(f_of_x, np.concatenate([np.ravel(z), flat_theta[1], [t]]))

        def pullback(lam):
            g = vjp(lam)
            return g[:n].reshape(z.shape), g[n:n + m], g[-1]

        return dz_dt, pullback

    return f_and_pullback
