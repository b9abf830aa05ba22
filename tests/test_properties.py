"""Property-based tests: random tanh-MLP Neural ODEs on random time grids (hypothesis).

Every example draws a state dimension (1–6), one state or a batch, the MLP's parameters, a time
span (very short, short or long; forward or reversed) and 2–6 observation times. The profiles
(fast and derandomized by default, long on request) are set in conftest.py.

Where the tolerances come from:
- ρ = ‖W2‖·‖[W1; c1]‖ (spectral norms) is a Lipschitz constant of f in (z, t). Spans are drawn with
  ρ·|T| ≤ 4 (non-stiff: bounded growth) and n_steps with ρ·h ≤ 1/2, where RK4 is well inside its
  convergent regime: halving h cuts its O(h⁴) error about 16-fold, and certainly in half.
- Richardson: if halving h at least halves the error e(h) = G(h) − G of a method, then
  ‖e(h)‖ ≤ ‖G(h) − G(h/2)‖ + ‖e(h)‖/2, so ‖e(h)‖ ≤ 2‖G(h) − G(h/2)‖. The adjoint A and backprop B
  converge to the same exact gradient, so ‖A − B‖ ≤ 2(‖A(h) − A(h/2)‖ + ‖B(h) − B(h/2)‖).
- Backprop and finite differences differentiate the same discrete solution; central differences
  err by about ε^(2/3) per component times S = Σ |∂L/∂zs|·(1 + |zs|), the size of the sum they
  difference (finite_differences.py). FD_CONSTANT covers the third derivatives of the solution,
  which ρ·|T| ≤ 4 keeps of order S (the largest seen in 200 random problems was 0.7).
- Round-off: every gradient sums terms of size up to S, each rounded at ε, over at most a few
  hundred RK4 stages; ROUND_OFF·S allows for that (seen: about ε·S).
"""
import functools

import autograd.numpy as anp
import numpy as np
from autograd import grad
from hypothesis import given, strategies as st

import adjoint_ref as ar
from adjoint_ref._impl.tree import ravel_tree
from adjoint_ref.problems.models import Problem, mlp_dynamics

EPS = np.finfo(np.float64).eps
ROUND_OFF = 1e3 * EPS
FD_CONSTANT = 50
SPANS = {"very short": (1e-6, 1e-3), "short": (1e-3, 0.5), "long": (0.5, 4.0)}  # ranges of ρ·|T|


def rate(theta):
    """ρ = ‖W2‖·‖[W1; c1]‖, a Lipschitz constant of mlp_dynamics in (z, t)."""
    return np.linalg.norm(theta["W2"], 2) * np.linalg.norm(np.vstack([theta["W1"], theta["c1"]]), 2)


def weighted_loss(w, zs):
    """L = Σ w·zs + ¼ Σ zs²: ∂L/∂zs depends on the solution as well as on the weights."""
    return anp.sum(w * zs) + 0.25 * anp.sum(zs ** 2)


@st.composite
def problems(draw):
    """(Problem, n_steps): a random MLP Neural ODE and a step count with ρ·h ≤ 1/2.

    Hypothesis picks the shapes, the span, the direction, the number of observation times and a
    seed; the seed draws the parameters, z0, the loss weights and the spacing of the times.
    """
    dim, hidden, n_times = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(2, 6))
    shape = (dim,) if draw(st.booleans()) else (draw(st.integers(1, 3)), dim)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    theta = {"W1": rng.uniform(-1, 1, (dim, hidden)) / np.sqrt(dim), "b1": rng.uniform(-1, 1, hidden),
             "c1": rng.uniform(-1, 1, hidden), "W2": rng.uniform(-1, 1, (hidden, dim)) / np.sqrt(hidden),
             "b2": rng.uniform(-1, 1, dim)}
    rho = max(rate(theta), 0.25)  # spans stay finite when f barely depends on z and t
    low, high = SPANS[draw(st.sampled_from(sorted(SPANS)))]
    span = low * (high / low) ** draw(st.floats(0, 1)) / rho * draw(st.sampled_from([1, -1]))
    gaps = rng.uniform(0.1, 1.0, n_times - 1)
    ts = draw(st.floats(-3, 3)) + span * np.concatenate([[0.0], np.cumsum(gaps) / gaps.sum()])
    n_steps = int(np.ceil(2 * rho * abs(span) * gaps.max() / gaps.sum())) + draw(st.integers(0, 2))
    z0, w = rng.uniform(-2, 2, shape), rng.uniform(-1, 1, (n_times,) + shape)
    return Problem(mlp_dynamics, z0, theta, ts, functools.partial(weighted_loss, w)), n_steps


def size_of_terms(problem, n_steps):
    """S = Σ |∂L/∂zs|·(1 + |zs|): the size of the terms every gradient of L sums."""
    zs = ar.odeint(problem.f, problem.z0, problem.theta, problem.ts, n_steps)
    return np.sum(np.abs(grad(problem.loss)(zs)) * (1 + np.abs(zs)))


@given(problems())
def test_adjoint_backprop_and_finite_differences_agree(example):
    p, n = example

    def flat(method, n_steps):
        g = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, method)
        return g.loss, {q: ravel_tree(getattr(g, q)) for q in ("z0", "theta", "ts")}

    (loss_a, a), (_, a2) = flat("adjoint", n), flat("adjoint", 2 * n)
    (loss_b, b), (_, b2) = flat("backprop", n), flat("backprop", 2 * n)
    loss_fd, fd = flat("finite_differences", n)
    assert loss_a == loss_b == loss_fd  # one forward pass, computed the same way by every method
    S = size_of_terms(p, n)
    for q in ("z0", "theta", "ts"):
        richardson = 2 * (np.linalg.norm(a[q] - a2[q]) + np.linalg.norm(b[q] - b2[q]))
        assert np.linalg.norm(a[q] - b[q]) <= richardson + ROUND_OFF * S, q
        fd_tol = FD_CONSTANT * EPS ** (2 / 3) * S * np.sqrt(b[q].size)
        assert np.linalg.norm(fd[q] - b[q]) <= fd_tol, q


@given(problems())
def test_forward_solves_the_ode_and_backward_returns_z0(example):
    # Integrate ts[0] → ts[-1] with 4k and 8k RK4 steps. (a) The solution satisfies dz/dt = f in integral
    # form: z(t1) − z(t0) = ∫ f(z(t), θ, t) dt, the integral by Simpson's rule on the solver's own points.
    # (b) Integrated back to ts[0], it returns to z0. Both miss only by O(h⁴) (RK4, Simpson), so doubling
    # the steps must cut each miss at least 8-fold (order 4: 16-fold), down to round-off. At 4k steps
    # ρh ≤ 1/8; at k and 2k (ρh ≤ 1/2, pre-asymptotic) the long profile found round trips falling only
    # 1.3-fold. A solver that leaves z unchanged returns to z0 exactly but misses the integral by about
    # ‖∫ f(z0, θ, t) dt‖ at every step count; one that steps backwards wrongly misses z0.
    p, n = example
    t0, t1, k = p.ts[0], p.ts[-1], n * (len(p.ts) - 1)

    def integral_miss(n_steps):
        grid = np.linspace(t0, t1, 2 * n_steps + 1)  # one RK4 step between points: 2·n_steps in all
        zs = ar.odeint(p.f, p.z0, p.theta, grid, 1)
        fs = np.array([p.f(z, p.theta, t) for z, t in zip(zs, grid)])
        simpson = (grid[1] - grid[0]) / 3 * (fs[0] + 4 * fs[1:-1:2].sum(0) + 2 * fs[2:-1:2].sum(0) + fs[-1])
        return np.linalg.norm(zs[-1] - zs[0] - simpson)

    def miss(n_steps):
        z1 = ar.odeint(p.f, p.z0, p.theta, [t0, t1], n_steps)[-1]
        return np.linalg.norm(ar.odeint(p.f, z1, p.theta, [t1, t0], n_steps)[-1] - p.z0)

    z_size = 1 + np.abs(ar.odeint(p.f, p.z0, p.theta, p.ts, n)).max()
    floor = ROUND_OFF * z_size * np.sqrt(p.z0.size)
    assert integral_miss(8 * k) <= integral_miss(4 * k) / 8 + floor
    assert miss(8 * k) <= miss(4 * k) / 8 + floor
