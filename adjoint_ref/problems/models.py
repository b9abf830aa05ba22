"""Problems to run the methods on: a tanh-MLP Neural ODE, the built-in default problem, and the
damped-pendulum spiral that `adjoint-ref train` fits.

Dynamics follow the post's argument order f(z, θ, t) and are written with autograd.numpy.
"""
from collections import namedtuple

import autograd.numpy as anp
import numpy as np
from autograd.builtins import dict as traceable_dict
from autograd.extend import defjvp_argnum, defvjp_argnums, primitive
from autograd.tracer import isbox

from .problem import Problem
from ..rk4 import integrate


def mlp_init(dim, hidden, seed=0):
    """Parameters of `mlp_dynamics` for a dim → hidden → dim network, drawn from `seed`.

    Weights are scaled by 1/√(fan-in), so f is O(1) and the flow is neither stiff nor trivial.
    """
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(size=(dim, hidden)) / np.sqrt(dim),
        "b1": rng.normal(size=hidden) * 0.1,
        "c1": rng.normal(size=hidden),
        "W2": rng.normal(size=(hidden, dim)) / np.sqrt(hidden),
        "b2": rng.normal(size=dim) * 0.1,
    }


def mlp_hidden(z, theta, t):
    """The hidden layer of `mlp_dynamics`: tanh(z W1 + t c1 + b1)."""
    return anp.tanh(anp.dot(z, theta["W1"]) + t * theta["c1"] + theta["b1"])


def mlp_formula(z, theta, t):
    """f(z, θ, t) = tanh(z W1 + t c1 + b1) W2 + b2 in autograd.numpy, without hand-written derivatives.

    What autograd traces (about ten primitives per call) for an f like a user's own; the tests
    check `mlp_dynamics`'s hand-written derivatives against autograd's derivatives of this formula.
    """
    return anp.dot(mlp_hidden(z, theta, t), theta["W2"]) + theta["b2"]


@primitive
def mlp_dynamics(z, theta, t):
    """f(z, θ, t) = tanh(z W1 + t c1 + b1) W2 + b2 — a one-hidden-layer MLP that depends on t.

    z may be a vector (D,) or a batch (B, D); t enters through the weights c1. It is an autograd
    primitive with hand-written VJP and JVP, so a trace records one node per call instead of
    `mlp_formula`'s ten, which makes each backward RK4 stage cheaper. The
    derivatives are written so that autograd can trace them too: they can be differentiated again.
    """
    return mlp_formula(z, theta, t)


def _mlp_vjp(argnums, ans, args, kwargs):
    """g ↦ (g ∂f/∂z, g ∂f/∂θ, g ∂f/∂t) of `mlp_dynamics` (those in argnums), by hand.

    With a = z W1 + t c1 + b1, h = tanh(a) and ḡ = (g W2ᵀ) ⊙ (1 − h²) = g ∂f/∂a, one sweep back gives
    g ∂f/∂z = ḡ W1ᵀ, g ∂f/∂t = Σ ḡ · c1, and for θ: W1: zᵀ ḡ, b1: Σ ḡ, c1: t Σ ḡ, W2: hᵀ g, b2: Σ g
    (Σ over the batch). Operators and array methods (@, .T, .sum) cost nothing extra on arrays and
    are still traced by autograd on its boxes, so the VJP can be differentiated again."""
    z, theta, t = args
    hidden = mlp_hidden(z, theta, t)

    def vjp(g):
        g_pre = (g @ theta["W2"].T) * (1 - hidden ** 2)  # g ∂f/∂(z W1 + t c1 + b1)
        rows_pre, rows_g = g_pre.reshape(-1, g_pre.shape[-1]), g.reshape(-1, g.shape[-1])
        g_b1 = rows_pre.sum(0)
        g_theta = {"W1": z.reshape(-1, z.shape[-1]).T @ rows_pre, "b1": g_b1, "c1": t * g_b1,
                   "W2": hidden.reshape(-1, hidden.shape[-1]).T @ rows_g, "b2": rows_g.sum(0)}
        if len(theta) != len(g_theta):  # keys mlp_dynamics does not use get a zero gradient
            g_theta = {key: g_theta.get(key, anp.zeros_like(value)) for key, value in theta.items()}
        if any(isbox(value) for value in g_theta.values()):  # the VJP is being differentiated again:
            g_theta = traceable_dict(g_theta)  # autograd's dict (slower) keeps the container traced
        grads = {0: g_pre @ theta["W1"].T, 1: g_theta, 2: g_b1 @ theta["c1"]}
        return tuple(grads[argnum] for argnum in argnums)

    return vjp


def _mlp_jvp(argnum, tangent, ans, args, kwargs):
    """The change of `mlp_dynamics` when argument `argnum` moves by `tangent` (forward mode).

    With a, h as in `_mlp_vjp`: df = ((dz W1) ⊙ (1 − h²)) W2 for z, (dt c1 ⊙ (1 − h²)) W2 for t, and
    ((z dW1 + t dc1 + db1) ⊙ (1 − h²)) W2 + h dW2 + db2 for θ.
    """
    z, theta, t = args
    hidden = mlp_hidden(z, theta, t)
    slope = 1 - hidden ** 2
    if argnum == 0:
        return ((tangent @ theta["W1"]) * slope) @ theta["W2"]
    if argnum == 2:
        return (tangent * theta["c1"] * slope) @ theta["W2"]
    d_pre = z @ tangent["W1"] + t * tangent["c1"] + tangent["b1"]
    return (d_pre * slope) @ theta["W2"] + hidden @ tangent["W2"] + tangent["b2"]


defvjp_argnums(mlp_dynamics, _mlp_vjp)
defjvp_argnum(mlp_dynamics, _mlp_jvp)


def linear_dynamics(z, theta, t):
    """f(z, θ, t) = θ z: a linear ODE with the matrix θ (z a vector)."""
    return anp.dot(theta, z)


def contracting_problem(fast=50.0, slow=1.0, angle=0.6, t1=1.0):
    """A strongly contracting linear flow on which integrating z backwards fails.

    dz/dt = A z with A = Q diag(−slow, −fast) Qᵀ (Q a rotation by `angle`), θ = A, z0 = (1, 0.5),
    ts = [0, t1], L = w·z(t1) with w = (1, −2). Forwards the fast direction decays like e^{−fast·t},
    far below round-off; backwards the round-off in z(t1) along it grows like e^{fast·t1} (e^{50} ≈ 5e21).
    """
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    A = rotation @ np.diag([-slow, -fast]) @ rotation.T
    w = np.array([1.0, -2.0])

    def loss(zs):
        return anp.dot(w, zs[-1])

    return Problem(linear_dynamics, np.array([1.0, 0.5]), A, np.array([0.0, t1]), loss)


def default_problem(hidden=16, batch=4, t1=1.0, seed=0, dim=2, n_times=5):
    """The problem `adjoint-ref check` runs: a t-dependent tanh MLP, a loss on several times.

    z0 is a batch of `batch` states in `dim` dimensions (batch=0 gives one state of shape (dim,));
    ts = n_times equally spaced times on [0, t1]; the loss is half the squared distance between
    zs[1:] and fixed targets, all drawn from `seed`.
    """
    rng = np.random.default_rng(seed + 1)
    shape = (dim,) if batch == 0 else (batch, dim)
    z0 = rng.normal(size=shape)
    ts = np.linspace(0.0, t1, n_times)
    targets = rng.normal(size=(n_times - 1,) + shape)

    def loss(zs):
        return 0.5 * anp.sum((zs[1:] - targets) ** 2)

    return Problem(mlp_dynamics, z0, mlp_init(dim, hidden, seed), ts, loss)


def default_problem_bytes(hidden=16, batch=4, dim=2, n_times=5):
    """Memory `default_problem` takes to build and to evaluate f once: θ (hidden × (2·dim + 2) + dim
    numbers), z0 and the targets (batch × dim × n_times), and f's hidden layer (batch × hidden,
    counted four times for the pre-activation, tanh and their temporaries)."""
    states = max(batch, 1)
    return 8 * (hidden * (2 * dim + 2) + dim + states * dim * n_times + 4 * states * hidden)


def observing_t0(problem):
    """`problem` with ½‖z(t0)‖² added to its loss, so that the loss observes z(t0) as well: the adjoint's
    λ then jumps at t0 too, and dL/dz0 gains z0 (what `adjoint-ref check --observe-t0` runs)."""
    def loss(zs):
        return problem.loss(zs) + 0.5 * anp.sum(zs[0] ** 2)
    return problem._replace(loss=loss)


def autonomous_mlp_dynamics(z, theta, t):
    """f(z, θ) = mlp_dynamics(z, θ, 0): the same MLP with its time input switched off.

    For autonomous systems such as the pendulum below. θ["c1"] multiplies t = 0, so its gradient
    is exactly zero and a gradient method leaves it where it started.
    """
    return mlp_dynamics(z, theta, 0.0)


PENDULUM = np.array([1.0, 0.25])  # θ of damped_pendulum: ω² = g/l and the damping rate γ


def damped_pendulum(z, theta, t):
    """dz/dt = (z₂, −ω² sin z₁ − γ z₂): the damped pendulum behind the spiral data.

    z = (angle, angular velocity), θ = (ω², γ). Its phase portrait spirals into the rest state (0, 0).
    """
    angle, velocity = z[..., 0], z[..., 1]
    return anp.stack([velocity, -theta[0] * anp.sin(angle) - theta[1] * velocity], axis=-1)


def pendulum_problem(t1=8.0, n_times=5, z0=(2.5, 0.0), fit_to=(1.3, 0.15)):
    """The damped pendulum as a fitting problem, for the figures: a curved z(t) and a λ that swings.

    f = `damped_pendulum` with θ = PENDULUM, z0 = (angle, velocity), ts = n_times equally spaced
    times on [0, t1]; the loss is half the squared distance between zs[1:] and the pendulum with
    θ = `fit_to` at the same times (10 RK4 steps per interval).
    """
    z0 = np.asarray(z0, dtype=np.float64)
    ts = np.linspace(0.0, t1, n_times)
    targets = integrate(damped_pendulum, z0, np.asarray(fit_to, dtype=np.float64), ts, 10)[1:]

    def loss(zs):
        return 0.5 * anp.sum((zs[1:] - targets) ** 2)

    return Problem(damped_pendulum, z0, PENDULUM.copy(), ts, loss)


def growth(z, theta, t):
    """f(z, θ, t) = θ z: exponential growth at the rate θ (worked example 1 of the derivation)."""
    return theta * z


def growth_problem(z0=1.0, theta=0.5, t0=0.0, t1=2.0):
    """Worked example 1: dz/dt = θ z, L = ½ z(t1)², so z(t) = z0 e^{θ(t − t0)} and λ(t) = e^{θ(t1 − t)} z(t1)."""
    def loss(zs):
        return 0.5 * zs[-1] ** 2

    return Problem(growth, np.float64(z0), np.float64(theta), np.array([t0, t1]), loss)


SHEAR = np.array([[-1.0, 2.0], [0.0, -1.0]])  # A of worked example 2: not symmetric, e^{At} = e^{−t}(I + t N)


def shear_problem(t1=2.0):
    """Worked example 2: dz/dt = A z with the non-symmetric A = SHEAR, z0 = (0, 1), L = w·z(t1), w = (1, 0).

    A = −I + 2N with N = [[0, 1], [0, 0]] (N² = 0), so e^{At} = e^{−t}(I + 2tN) is known by hand.
    """
    w = np.array([1.0, 0.0])

    def loss(zs):
        return anp.dot(w, zs[-1])

    return Problem(linear_dynamics, np.array([0.0, 1.0]), SHEAR.copy(), np.array([0.0, t1]), loss)


def cosine(z, theta, t):
    """f(z, θ, t) = θ cos(t) z: explicitly time-dependent, with z(t) = z0 e^{θ(sin t − sin t0)}."""
    return theta * anp.cos(t) * z


def cosine_problem(z0=1.0, theta=1.0, t0=0.5, t1=2.0):
    """dz/dt = θ cos(t) z, L = z(t1): dL/dt0 = −θ cos(t0) z(t1) in closed form (the t0 figure)."""
    def loss(zs):
        return zs[-1]

    return Problem(cosine, np.float64(z0), np.float64(theta), np.array([t0, t1]), loss)


SpiralData = namedtuple("SpiralData", ["ts", "zs", "observed"])
SpiralData.__doc__ = """Observation times ts, the pendulum's states zs at those times, and observed = zs + noise."""


def spiral_data(n_times=300, t1=15.0, noise=0.0, seed=0, z0=(2.5, 0.0)):
    """The damped pendulum observed at n_times equally spaced times on [0, t1].

    zs comes from 10 RK4 steps per observation interval (error far below any noise of interest);
    observed adds independent N(0, noise²) errors to every coordinate, drawn from `seed`.
    """
    ts = np.linspace(0.0, t1, n_times)
    zs = integrate(damped_pendulum, np.asarray(z0, dtype=np.float64), PENDULUM, ts, 10)
    observed = zs + noise * np.random.default_rng(seed).normal(size=zs.shape)
    return SpiralData(ts, zs, observed)
