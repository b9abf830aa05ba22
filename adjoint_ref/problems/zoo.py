"""A zoo of problems from the literature to check gradients on: `adjoint-ref check --problem NAME`.

Each entry of ZOO holds a function making the `Problem`, the RK4 steps per observation interval at
which every gradient method agrees with backprop to 1e-6 (`adjoint-ref check` with its default
tolerance), the `checkpoints` the adjoint needs (None, or "auto" where the plain adjoint's backward z
drifts) and a one-line description. The problems defined here take their parameters as dicts, so a
report names them (`theta['rho']`), and their loss is half the squared distance of z(t_i), i ≥ 1,
from a fixed point: smooth, and with a gradient in every direction; the others come from `models`.
"""
from collections import namedtuple

import autograd.numpy as anp
import numpy as np

from .models import contracting_problem, default_problem, pendulum_problem, shear_problem
from .problem import Problem

Entry = namedtuple("Entry", ["make", "n_steps", "checkpoints", "description"])
Entry.__doc__ = """A zoo problem: make() returns its Problem; n_steps RK4 steps per interval and `checkpoints`
for the adjoint are its defaults; description is the line `--help` shows."""


def distance_loss(target):
    """L(zs) = ½ Σ_{i≥1} ‖z(t_i) − target‖²: how far the solution is from `target` after t0."""
    def loss(zs):
        return 0.5 * anp.sum((zs[1:] - target) ** 2)
    return loss


def lotka_volterra(z, theta, t):
    """Predator–prey: dx/dt = α x − β x y, dy/dt = −δ y + γ x y (x prey, y predators)."""
    x, y = z[..., 0], z[..., 1]
    return anp.stack([theta["alpha"] * x - theta["beta"] * x * y,
                      -theta["delta"] * y + theta["gamma"] * x * y], axis=-1)


def lotka_volterra_problem():
    """Lotka–Volterra with (α, β, δ, γ) = (1.5, 1, 3, 1) from z0 = (1, 1), the parameters of the
    Julia DifferentialEquations/DiffEqFlux examples; loss: distance from (1, 1)."""
    theta = {"alpha": 1.5, "beta": 1.0, "delta": 3.0, "gamma": 1.0}
    return Problem(lotka_volterra, np.array([1.0, 1.0]), theta, np.linspace(0.0, 1.0, 3), distance_loss(1.0))


def fitzhugh_nagumo(z, theta, t):
    """FitzHugh's neuron model: dv/dt = v − v³/3 − w + I, dw/dt = (v + a − b w) / τ."""
    v, w = z[..., 0], z[..., 1]
    return anp.stack([v - v ** 3 / 3 - w + theta["I"], (v + theta["a"] - theta["b"] * w) / theta["tau"]], axis=-1)


def fitzhugh_nagumo_problem():
    """FitzHugh–Nagumo with FitzHugh's (1961) a = 0.7, b = 0.8, τ = 12.5 and input current I = 0.5
    (a limit cycle: the neuron spikes), from z0 = (−1, 1)."""
    theta = {"a": 0.7, "b": 0.8, "tau": 12.5, "I": 0.5}
    return Problem(fitzhugh_nagumo, np.array([-1.0, 1.0]), theta, np.linspace(0.0, 2.0, 3), distance_loss(0.0))


def van_der_pol(z, theta, t):
    """Van der Pol's oscillator as a system: dx/dt = y, dy/dt = μ (1 − x²) y − x."""
    x, y = z[..., 0], z[..., 1]
    return anp.stack([y, theta["mu"] * (1 - x ** 2) * y - x], axis=-1)


def van_der_pol_problem():
    """Van der Pol with μ = 1 from z0 = (2, 0), near its limit cycle."""
    return Problem(van_der_pol, np.array([2.0, 0.0]), {"mu": 1.0}, np.linspace(0.0, 1.5, 4), distance_loss(0.0))


def lorenz(z, theta, t):
    """Lorenz's (1963) convection model: dx/dt = σ (y − x), dy/dt = x (ρ − w) − y, dw/dt = x y − β w."""
    x, y, w = z[..., 0], z[..., 1], z[..., 2]
    return anp.stack([theta["sigma"] * (y - x), x * (theta["rho"] - w) - y, x * y - theta["beta"] * w], axis=-1)


def lorenz_problem():
    """Lorenz with σ = 10, ρ = 28, β = 8/3 from z0 = (1, 1, 1), observed at t = 0.4: a span long enough
    for the chaotic flow to push the plain adjoint's backward z off the forward one (checkpoints fix it)."""
    theta = {"sigma": 10.0, "rho": 28.0, "beta": 8 / 3}
    return Problem(lorenz, np.ones(3), theta, np.array([0.0, 0.4]), distance_loss(0.0))


ZOO = {
    "mlp": Entry(default_problem, 10, None, "the default: a t-dependent tanh-MLP Neural ODE on a batch of states"),
    "linear": Entry(shear_problem, 60, None, "dz/dt = A z, A = [[−1, 2], [0, −1]] non-symmetric, closed form "
                                             "e^{−t}(I + 2tN) (worked example 2)"),
    "pendulum": Entry(lambda: pendulum_problem(t1=3.0, n_times=4), 20, None,
                      "the damped pendulum (ω², γ) = (1, 0.25) fitted to (1.3, 0.15) on [0, 3]"),
    "lotka-volterra": Entry(lotka_volterra_problem, 20, None, "Lotka–Volterra, (α, β, δ, γ) = (1.5, 1, 3, 1)"),
    "fitzhugh-nagumo": Entry(fitzhugh_nagumo_problem, 40, None,
                             "FitzHugh–Nagumo, a = 0.7, b = 0.8, τ = 12.5, I = 0.5"),
    "van-der-pol": Entry(van_der_pol_problem, 24, None, "Van der Pol, μ = 1"),
    "lorenz": Entry(lorenz_problem, 120, "auto", "Lorenz (10, 28, 8/3) on [0, 0.4]: chaotic, the adjoint needs "
                                                  "checkpoints"),
    "contracting": Entry(contracting_problem, 100, "auto", "dz/dt = A z, eigenvalues −1 and −50: the adjoint needs "
                                                            "checkpoints"),
}
