"""Eqs. (1)–(12) of the derivation, one function per step, evaluated with numbers along a trajectory.

Everything lives on the RK4 grid: each observation interval [t_{i-1}, t_i] carries its n_steps + 1
grid times, so a quantity along the path is an array of shape (intervals, n_steps + 1, ...), and an
interval's two ends are separate entries. That is what lets λ jump at an observation time: an
integral over several intervals is the sum of the per-interval integrals, never one across a jump.

Conventions. z, λ and f are flat vectors of n = size(z) numbers. λ is the post's row vector:
"λ ∂f/∂z" is the vector–Jacobian product, and "λ S" (S = dz/dθ, n × P) is a row of P numbers, one
per parameter, so every term of eqs. (8)–(12) is a vector shaped like the flat θ.

Numerics, all of order 4 in the step h, the order of RK4 itself:
  - integrals: composite Simpson's rule on each interval's grid (`simpson`), error
    (t_i − t_{i-1}) h⁴ max|g⁗| / 180; it needs an even number of steps per interval;
  - time derivatives of grid values (ż, and λ̇ of the adjoint, known only on the grid): five-point
    differences (`grid_derivative`), error ≤ h⁴ max|g⁽⁵⁾| / 5 (the one-sided end stencils); n_steps ≥ 4.
"""
import warnings
from collections import namedtuple

import autograd.numpy as anp
import numpy as np

from ._impl.validate import as_n_steps, inputs
from autograd import jacobian, make_jvp, make_vjp

from .trajectory import adjoint_trajectory
from .sensitivity import forward_sensitivities
from ._impl.tree import ravel_tree, unravel_like

Path = namedtuple("Path", ["t", "z", "S"])
Path.__doc__ = """The forward solution on the grid: times t (M, K), states z (M, K, n), S = dz/dθ (M, K, n, P)."""

Multiplier = namedtuple("Multiplier", ["lam", "lam_dot"])
Multiplier.__doc__ = """A Lagrange multiplier λ(t) and its time derivative λ̇ on the grid, each (M, K, n)."""

Jacobians = namedtuple("Jacobians", ["f", "f_z", "f_theta", "f_t"])
Jacobians.__doc__ = """f (M, K, n) and its full Jacobians ∂f/∂z (M, K, n, n), ∂f/∂θ (M, K, n, P), ∂f/∂t (M, K, n)
at every grid point."""

Products = namedtuple("Products", ["f", "lam_fz", "lam_ftheta", "lam_ft"])
Products.__doc__ = """f, λ∂f/∂z (M, K, n), λ∂f/∂θ (M, K, P) and λ∂f/∂t (M, K) at every grid point."""

# Five-point first-derivative stencils (times h): the centred one, and the one-sided ones for the
# first two points of a grid (mirrored, with a sign flip, for the last two). All of order 4.
CENTRED = np.array([1.0, -8.0, 0.0, 8.0, -1.0]) / 12
FIRST_POINT = np.array([-25.0, 48.0, -36.0, 16.0, -3.0]) / 12
SECOND_POINT = np.array([-3.0, -10.0, 18.0, -6.0, 1.0]) / 12


def grid_steps(n_steps):
    """n_steps as validated for this module: an even integer ≥ 4 (Simpson; five-point differences)."""
    n_steps = as_n_steps(n_steps)
    if n_steps < 4 or n_steps % 2:
        raise ValueError(f"n_steps must be even and at least 4 for Simpson's rule and five-point "
                         f"differences on the RK4 grid, got {n_steps}")
    return n_steps


def _per_interval(h, values):
    """h (M,) shaped to broadcast against values (M, ...)."""
    return np.reshape(h, (-1,) + (1,) * (np.ndim(values) - 1))


def simpson(values, t):
    """∫ g dt on each interval by composite Simpson's rule (order 4): returns (M, ...) integrals.

    values (M, K, ...) are g on the grid times t (M, K); K − 1 must be even. Oriented: a
    decreasing grid gives the integral from the first time to the last, negative for g > 0.
    """
    n = t.shape[1] - 1
    weights = np.ones(n + 1)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    h = (t[:, -1] - t[:, 0]) / n
    return np.einsum("k,mk...->m...", weights, values) * _per_interval(h / 3, values[:, 0])


def integral(values, t):
    """∫ g dt over the whole path: the sum of the per-interval Simpson integrals."""
    return simpson(values, t).sum(axis=0)


def boundary(values):
    """Σ_i [g]_{t_{i-1}}^{t_i} = Σ_i g(t_i⁻) − g(t_{i-1}⁺): the ends of every interval, jumps kept."""
    return (values[:, -1] - values[:, 0]).sum(axis=0)


def grid_derivative(values, t):
    """dg/dt at every grid point from the values on each interval's grid, by five-point differences.

    Order 4: centred inside, one-sided at the two first and two last points (needs K ≥ 5).
    """
    h = (t[:, -1] - t[:, 0]) / (t.shape[1] - 1)
    x = np.asarray(values)
    d = np.empty_like(x)
    d[:, 2:-2] = sum(c * x[:, k:x.shape[1] - 4 + k] for k, c in enumerate(CENTRED))
    first, last = x[:, :5], x[:, ::-1][:, :5]
    d[:, 0] = np.einsum("k,mk...->m...", FIRST_POINT, first)
    d[:, 1] = np.einsum("k,mk...->m...", SECOND_POINT, first)
    d[:, -1] = -np.einsum("k,mk...->m...", FIRST_POINT, last)
    d[:, -2] = -np.einsum("k,mk...->m...", SECOND_POINT, last)
    return d / _per_interval(h, d)


def row_times(lam, S):
    """λ S at every grid point: the row vector λ (…, n) times the Jacobian S (…, n, P)."""
    return np.einsum("...n,...np->...p", lam, S)


def at_observation_times(values):
    """The grid values (M, K, ...) at the M + 1 observation times t_0 … t_M: (M + 1, ...)."""
    return np.concatenate([values[:1, 0], values[:, -1]])


def forward_path(f, z0, theta, ts, n_steps):
    """The forward pass and S = dz/dθ on the RK4 grid (forward sensitivities), as a `Path`.

    Arguments as for `odeint`; ts holds M + 1 observation times, and each of the M intervals gets
    n_steps + 1 grid points (n_steps even, ≥ 4). z here is exactly RK4's z: augmenting the state
    with S does not change the arithmetic on z.
    """
    z0, theta, ts = inputs(f, z0, theta, ts)
    n_steps = grid_steps(n_steps)
    path = forward_sensitivities(f, z0, theta, ts, n_steps, trace=True)
    rows = [np.arange(i * n_steps, (i + 1) * n_steps + 1) for i in range(len(ts) - 1)]  # an interval's grid
    return Path(path.t[rows], path.z[rows], path.S[rows][..., z0.size:])


def _forward_jacobian(fun, x):
    """∂fun/∂x as an (outputs, inputs) matrix, one forward-mode JVP per entry of the flat x."""
    jvp = make_jvp(fun)(x)
    return np.stack([np.ravel(jvp(e)[1]) for e in np.eye(x.size)], axis=-1)


def jacobians_along(f, theta, path, z_shape):
    """f, ∂f/∂z, ∂f/∂θ and ∂f/∂t at every grid point of `path`, as `Jacobians`.

    ∂f/∂z and ∂f/∂t are computed in forward mode (autograd's JVPs, one per input entry), while every
    gradient method runs f's reverse mode (VJPs): so the eq. (11) rows check the solvers' λ ∂f/∂z, and
    f's own derivatives (a hand-written VJP against a hand-written JVP, for instance), instead of
    repeating them. ∂f/∂θ, with one column per parameter, is cheaper in reverse mode (one plain
    autograd VJP per entry of f, not through the solvers' `fast_vjp`); the rows that compare
    eq. (12) with finite differences check it.
    """
    flat = ravel_tree(theta)
    fs, f_z, f_theta, f_t = [], [], [], []
    with warnings.catch_warnings():  # an f that does not depend on t has ∂f/∂t = 0, which autograd remarks on
        warnings.filterwarnings("ignore", "Output seems independent of input", UserWarning)
        for t, z in zip(np.ravel(path.t), path.z.reshape(-1, path.z.shape[-1])):
            z = z.reshape(z_shape)
            fs.append(np.ravel(f(z, theta, t)))
            f_z.append(_forward_jacobian(lambda x: f(x.reshape(z_shape), theta, t), np.ravel(z)))
            f_theta.append(np.reshape(jacobian(lambda x: f(z, unravel_like(x, theta), t))(flat), (z.size, flat.size)))
            f_t.append(_forward_jacobian(lambda x: f(z, theta, x[0]), np.array([t]))[:, 0])
    grid = path.t.shape
    return Jacobians(*(np.array(a).reshape(grid + np.shape(a[0])) for a in (fs, f_z, f_theta, f_t)))


def along_path(jac, lam):
    """f, λ∂f/∂z, λ∂f/∂θ and λ∂f/∂t at every grid point, as `Products`: the row vector λ (M, K, n)
    times the `Jacobians` jac."""
    return Products(jac.f, np.einsum("...n,...nm->...m", lam, jac.f_z),
                    np.einsum("...n,...np->...p", lam, jac.f_theta), np.einsum("...n,...n->...", lam, jac.f_t))


def smooth_multiplier(t, n, seed=0, waves=3):
    """An arbitrary smooth λ(t) (not the adjoint) and its exact λ̇, as a `Multiplier` on the grid t.

    Each of the n components is a sum of `waves` sines a sin(ω t + φ), with a ~ N(0, 1),
    ω uniform in [0.5, 3] and φ uniform in [0, 2π), all drawn from `seed`.
    """
    rng = np.random.default_rng(seed)
    a, omega = rng.normal(size=(waves, n)), rng.uniform(0.5, 3.0, size=(waves, n))
    phase = rng.uniform(0.0, 2 * np.pi, size=(waves, n))
    angle = omega * t[..., None, None] + phase
    return Multiplier((a * np.sin(angle)).sum(axis=-2), (a * omega * np.cos(angle)).sum(axis=-2))


def eq1_constraint(z_dot, f):
    """Eq. (1): F(ż, z, θ, t) = ż − f(z, θ, t), zero along the solution."""
    return z_dot - f


def eq3_forward_solution(z0, f, t):
    """Eq. (3): z(t_i) = z(t0) + ∫_{t0}^{t_i} f(z, θ, t) dt, by Simpson's rule; one row per t_i, i ≥ 1."""
    return np.ravel(z0) + np.cumsum(simpson(f, t), axis=0)


def eq4_lagrangian(loss_value, lam, F, t):
    """Eq. (4): ψ = L(z(t1)) − ∫_{t0}^{t1} λ(t) F(ż, z, θ, t) dt."""
    return loss_value - integral(np.sum(lam * F, axis=-1), t)


def eq6_split(lam, z_dot, f, t):
    """Eq. (6): ∫ λF dt = ∫ λż dt − ∫ λf dt; returns the two integrals (∫ λż dt, ∫ λf dt)."""
    return integral(np.sum(lam * z_dot, axis=-1), t), integral(np.sum(lam * f, axis=-1), t)


def eq7_by_parts(lam, lam_dot, z, t):
    """Eq. (7): ∫_{t0}^{t1} λż dt = λ(t1)z(t1) − λ(t0)z(t0) − ∫_{t0}^{t1} z λ̇ dt (right-hand side).

    With several intervals the boundary term is Σ_i [λz]_{t_{i-1}⁺}^{t_i⁻}.
    """
    return boundary(np.sum(lam * z, axis=-1)) - integral(np.sum(z * lam_dot, axis=-1), t)


def chain_rule(lam_fz, S, lam_ftheta):
    """λ df/dθ = λ ∂f/∂θ + λ ∂f/∂z dz/dθ: the total θ-derivative of f along the path, times λ."""
    return lam_ftheta + row_times(lam_fz, S)


def eq8_constraint_derivative(lam, lam_dot, S, lam_df_dtheta, t):
    """Eq. (8): d/dθ ∫ λF dt = λ(t1) dz(t1)/dθ − λ(t0) dz(t0)/dθ − ∫ (dz/dθ λ̇ + λ df/dθ) dt.

    dz(t0)/dθ = 0 (z0 is an input); λ df/dθ comes from `chain_rule`.
    """
    return boundary(row_times(lam, S)) - integral(row_times(lam_dot, S) + lam_df_dtheta, t)


def eq9_constraint_derivative(lam, lam_dot, S, lam_fz, lam_ftheta, t):
    """Eq. (9): d/dθ ∫ λF dt = λ(t1) dz(t1)/dθ − ∫ (λ̇ + λ ∂f/∂z) dz/dθ dt − ∫ λ ∂f/∂θ dt."""
    return (boundary(row_times(lam, S)) - integral(row_times(lam_dot + lam_fz, S), t)
            - integral(lam_ftheta, t))


def eq10_terms(dL_dzs, lam, lam_dot, S, lam_fz, lam_ftheta, t):
    """Eq. (10): dL/dθ = [∂L/∂z(t1) − λ(t1)] dz(t1)/dθ + ∫ (λ̇ + λ ∂f/∂z) dz/dθ dt + ∫ λ ∂f/∂θ dt.

    Returns the three terms separately; their sum is dL/dθ for any λ. With observation times
    t_1 … t_N (dL_dzs[i] = ∂L/∂z(t_i), flat) the first term becomes
    Σ_i ∂L/∂z(t_i) S(t_i) − Σ_i [λS]_{t_{i-1}⁺}^{t_i⁻} = Σ_i [∂L/∂z(t_i) − λ(t_i⁻) + λ(t_i⁺)] S(t_i)
    with λ(t_N⁺) = 0 and S(t0) = 0; for one interval it is the post's bracket.
    """
    bracket = row_times(dL_dzs, at_observation_times(S)).sum(axis=0) - boundary(row_times(lam, S))
    return bracket, integral(row_times(lam_dot + lam_fz, S), t), integral(lam_ftheta, t)


def eq11_adjoint_multiplier(f, zs, theta, ts, n_steps, dL_dzs, t):
    """Eq. (11): dλ/dt = −λ ∂f/∂z, λ(t1) = ∂L/∂z(t1) — λ solved backwards, as a `Multiplier` on grid t.

    λ comes from `adjoint_trajectory` (the adjoint's backward steps, which run on the same grid, for
    the loss Σ_i ∂L/∂z(t_i)·z(t_i), whose gradient is dL_dzs; with checkpoints="auto": where the plain
    backward z drifts, λ is taken along the forward z recomputed from checkpoints, and the drift is
    reported); at each earlier observation time it jumps by ∂L/∂z(t_i). λ̇ is estimated from the grid
    values by `grid_derivative`, independently of the right-hand side of eq. (11).
    """
    n_steps = grid_steps(n_steps)
    lam = adjoint_trajectory(lambda z_at_ts: anp.sum(dL_dzs * z_at_ts), f, zs[0], theta, ts, n_steps,
                             checkpoints="auto").lam
    lam = lam[:-1].reshape(len(ts) - 1, n_steps + 1, -1)[::-1, ::-1]  # backwards in time; the last row is λ(t0⁻)
    return Multiplier(lam, grid_derivative(lam, t))


def eq12_gradient(lam_ftheta, t):
    """Eq. (12): dL/dθ = −∫_{t1}^{t0} λ ∂f/∂θ dt (the integral taken backwards, limits flipped)."""
    return -integral(lam_ftheta[::-1, ::-1], t[::-1, ::-1])


def dL_dtn(lam, f):
    """dL/dt_i = [λ(t_i⁻) − λ(t_i⁺)] · f(z(t_i), θ, t_i) for i = 1 … N, with λ(t_N⁺) = 0.

    For the adjoint λ the jump is ∂L/∂z(t_i); for one interval this is the comment's
    dL/dt1 = λ(t1) · f(z(t1), θ, t1): moving t_i moves the point where z is observed.
    """
    after = np.concatenate([lam[1:, 0], np.zeros_like(lam[:1, 0])])
    return np.sum((lam[:, -1] - after) * f[:, -1], axis=-1)


def dL_dt0(lam, f):
    """dL/dt0 = −λ(t0⁺) · f(z(t0), θ, t0) for the adjoint λ.

    Sign convention: t0 is where the fixed input z0 is placed. Placing it δ later is, to first
    order, starting at the old t0 from z0 − δ f(z0, θ, t0) (the flow property), and λ(t0⁺), the
    sensitivity of L to the state just after t0, carries that change to L.
    """
    return -np.vdot(lam[0, 0], f[0, 0])


def comment_dL_dt0(lam, f, lam_ft, t):
    """The formula in the comment thread under the post: dL/dt_N + ∫_{t_N}^{t0} λ ∂f/∂t dt (with jumps).

    With several observation times dL/dt_N becomes Σ_{i ≥ 1} dL/dt_i (`dL_dtn`). Along each
    interval d(λ·f)/dt = λ ∂f/∂t, so this is H(t0⁺) for the Hamiltonian H(t) = λ(t⁺)·f(z(t), θ, t)
    (`hamiltonian`): +λ(t0⁺)·f(z0, θ, t0), what L gains per unit time when z0 is advanced along the flow
    (the same solution started earlier). Moving t0 later with z0 held fixed does the opposite, so
    dL/dt0 = −H(t0⁺) (`dL_dt0`): the formula gives −dL/dt0.
    """
    return np.sum(dL_dtn(lam, f)) - integral(lam_ft, t)


def hamiltonian(lam, f, g=None):
    """H = λ·f (+ g with a running cost g) at every grid point, (M, K): the ends of each interval kept apart.

    Along an interval dH/dt = λ ∂f/∂t (+ ∂g/∂t), so H is constant for autonomous dynamics; at t_i it
    jumps by dL/dt_i, and dL/dt_N = H(t_N⁻), dL/dt0 = −H(t0⁺).
    """
    H = np.sum(lam * f, axis=-1)
    return H if g is None else H + g


def chen_augmented_dynamics(f, z_shape, theta):
    """Chen et al. (2018), App. B.2: the augmented state x = [z, θ, t] (flat) and its ODE
    dx/dt = f_aug(x) = [f(z, θ, t), 0, 1]: θ joins the state as a constant, t as the clock. f gets θ's
    leaves traced by autograd inside θ's container, so it must be an autograd formula (a primitive that
    takes the whole container, like `models.mlp_dynamics`, does not see them)."""
    n = int(np.prod(z_shape))

    def f_aug(x):
        z, t = anp.reshape(x[:n], z_shape), x[-1]
        return anp.concatenate([anp.ravel(f(z, unravel_like(x[n:-1], theta), t)), anp.zeros(x.size - n - 1),
                                anp.ones(1)])

    return f_aug


def chen_adjoint_dynamics(f_aug, size):
    """Chen et al. (2018), App. B.2, one adjoint a_aug = [a, a_θ, a_t] for x = [z, θ, t]:
    da_aug/dt = −a_aug ∂f_aug/∂x = −[a ∂f/∂z, a ∂f/∂θ, a ∂f/∂t] — eq. (11), the integrand of eq. (12) and
    the comment's ODE for dL/dt at once — from one VJP of the whole f_aug. Returns ds_dt(s, theta, t) for
    s = [x, a_aug] (`size` = len(x)), the form RK4 steps; θ and t are read from x, not from the arguments."""
    def ds_dt(s, theta, t):
        pullback, dx_dt = make_vjp(f_aug)(s[:size])
        return np.concatenate([dx_dt, -pullback(s[size:])])

    return ds_dt


def chen_start(z1, theta, t1, dL_dz1, dL_dt1):
    """Chen et al.'s Algorithm 2 start value s(t1) = [z(t1), θ, t1, ∂L/∂z(t1), 0, −dL/dt1] (flat), with
    dL/dt1 = ∂L/∂z(t1)·f(z(t1), θ, t1). a_t starts at −dL/dt1, so that a_t(t) = −λ(t)·f = −H(t) and
    a_t(t0) = dL/dt0; starting it at +dL/dt1, as eq. (52) next to dL/dt1 invites, returns dL/dt0 + 2 dL/dt1."""
    flat = ravel_tree(theta)
    return np.concatenate([np.ravel(z1), flat, [t1], np.ravel(dL_dz1), np.zeros(flat.size), [-dL_dt1]])
