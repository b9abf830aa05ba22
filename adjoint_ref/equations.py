"""The derivation's equations checked one by one, with numbers (what `adjoint-ref equations` prints).

On a problem (the command uses `models.default_problem`) each row evaluates one equation of
`lagrangian` and compares its two sides, or, for a quantity that must vanish, its size against
the scale of the terms it comes from. λ is either an arbitrary smooth function (eqs. 4–10 hold
for any λ) or the adjoint of eq. (11).

Tolerances follow from the numerics. RK4, Simpson's rule and five-point differences are all of
order 4: each errs by a constant ≤ 1 times (ω h)⁴ relative to the size of what it computes, where
h is the RK4 step and ω = 3 the fastest rate in the problem (the arbitrary λ's highest frequency;
the MLP's rates are of order 1). Rows that hold exactly in exact arithmetic get ROUND_OFF.
"""
import unicodedata
from collections import namedtuple

import numpy as np
from autograd import value_and_grad

from . import lagrangian as lg
from .tree import ravel_tree
from .api import gradients
from .methods import METHODS
from .metrics import relative_difference

RATE = 3.0
ROUND_OFF = 1e-12  # float64 ε ≈ 2.2e-16, summed over a few hundred operations, with a wide margin

Row = namedtuple("Row", ["equation", "what", "a", "b", "residual", "tol"])
Row.__doc__ = """One checked equation: its two sides a, b (numbers or norms), the relative residual, the tolerance."""


def longest_step(ts, n_steps):
    """h: the longest RK4 step, with n_steps equal steps on every observation interval."""
    return float(np.max(np.abs(np.diff(ts)))) / n_steps


def discretisation_tolerance(ts, n_steps):
    """(ω h)⁴ with ω = RATE and h the longest RK4 step: the O(h⁴) error allowed on a row."""
    return (RATE * longest_step(ts, n_steps)) ** 4


def _size(x):
    """A single number itself (so its sign shows), anything else its Euclidean norm."""
    flat = ravel_tree(x)
    return float(flat[0]) if flat.size == 1 else float(np.linalg.norm(flat))


def compared(equation, what, a, b, tol):
    """A row for "a = b": the residual is ‖a − b‖ / max(‖a‖, ‖b‖)."""
    return Row(equation, what, _size(a), _size(b), relative_difference(a, b), tol)


def vanishing(equation, what, a, scale, tol):
    """A row for "a = 0": the residual is ‖a‖ / ‖scale‖, scale being the size a is measured against."""
    return Row(equation, what, _size(a), 0.0, _size(a) / _size(scale), tol)


Evaluation = namedtuple("Evaluation", ["problem", "n_steps", "path", "loss", "dL_dzs", "arbitrary", "adjoint",
                                       "on_arbitrary", "on_adjoint", "reference"])
Evaluation.__doc__ = """What the rows are computed from: the forward `Path`, L and ∂L/∂z(t_i) (flat, one row per
time), the arbitrary and the adjoint `Multiplier` with their `Products`, and {method: Gradients}."""


def evaluate(problem, n_steps, seed=0, log=print):
    """Solve `problem` forwards (with dz/dθ) and backwards (λ), and get every method's gradients."""
    f, z0, theta, ts, loss = problem
    n_steps = lg.grid_steps(n_steps)
    log("forward pass with dz/dθ (forward sensitivities)")
    path = lg.forward_path(f, z0, theta, ts, n_steps)
    zs = lg.at_observation_times(path.z).reshape((len(ts),) + z0.shape)
    loss_value, dL_dzs = value_and_grad(loss)(zs)
    log("λ: an arbitrary smooth one, and the adjoint (eq. 11, backwards)")
    arbitrary = lg.smooth_multiplier(path.t, z0.size, seed)
    adjoint = lg.eq11_adjoint_multiplier(f, zs, theta, ts, n_steps, dL_dzs, path.t)
    reference = {}
    for method in METHODS:
        log(f"reference gradients: {method}")
        reference[method] = gradients(loss, f, z0, theta, ts, n_steps, method)
    return Evaluation(problem, n_steps, path, loss_value, dL_dzs.reshape(len(ts), -1), arbitrary, adjoint,
                      lg.along_path(f, theta, path, arbitrary.lam, z0.shape),
                      lg.along_path(f, theta, path, adjoint.lam, z0.shape), reference)


def equation_rows(ev):
    """Eqs. (1)–(12) and the time gradients on the `Evaluation` ev, as a list of `Row`s."""
    path, z0, reference = ev.path, ev.problem.z0, ev.reference
    tol = discretisation_tolerance(ev.problem.ts, ev.n_steps)
    dL_dtheta = ravel_tree(reference["backprop"].theta)
    dL_dt0_fd = reference["finite_differences"].ts[0]
    on_arbitrary, on_adjoint, adjoint = ev.on_arbitrary, ev.on_adjoint, ev.adjoint
    flat_z0 = np.ravel(z0)
    z_dot = lg.grid_derivative(path.z, path.t)
    lam, lam_dot, fz, ftheta = ev.arbitrary.lam, ev.arbitrary.lam_dot, on_arbitrary.lam_fz, on_arbitrary.lam_ftheta
    lam_S = lg.boundary(lg.row_times(lam, path.S))
    arbitrary_terms = lg.eq10_terms(ev.dL_dzs, lam, lam_dot, path.S, fz, ftheta, path.t)
    adjoint_terms = lg.eq10_terms(ev.dL_dzs, adjoint.lam, adjoint.lam_dot, path.S, on_adjoint.lam_fz,
                                  on_adjoint.lam_ftheta, path.t)
    eq12 = lg.eq12_gradient(on_adjoint.lam_ftheta, path.t)
    return [
        vanishing("(1)", "F = ż − f on the RK4 grid (ż: five-point differences), vs ‖f‖",
                  lg.eq1_constraint(z_dot, on_arbitrary.f), on_arbitrary.f, tol),
        compared("(3)", "z(t_i) − z0: RK4 vs ∫ f dt by Simpson's rule",
                 path.z[:, -1] - flat_z0, lg.eq3_forward_solution(z0, on_arbitrary.f, path.t) - flat_z0, tol),
        compared("(4)–(5)", "ψ = L − ∫ λF dt vs L  [arbitrary λ]",
                 lg.eq4_lagrangian(ev.loss, lam, lg.eq1_constraint(z_dot, on_arbitrary.f), path.t),
                 ev.loss, tol),
        compared("(6)–(7)", "∫ λż dt vs [λz] − ∫ z λ̇ dt  [arbitrary λ]",
                 lg.eq6_split(lam, z_dot, on_arbitrary.f, path.t)[0],
                 lg.eq7_by_parts(lam, lam_dot, path.z, path.t), tol),
        vanishing("(8)", "d/dθ ∫ λF dt with df/dθ by the chain rule, vs ‖[λ dz/dθ]‖  [arbitrary λ]",
                  lg.eq8_constraint_derivative(lam, lam_dot, path.S, lg.chain_rule(fz, path.S, ftheta), path.t),
                  lam_S, tol),
        vanishing("(9)", "d/dθ ∫ λF dt, terms regrouped, vs ‖[λ dz/dθ]‖  [arbitrary λ]",
                  lg.eq9_constraint_derivative(lam, lam_dot, path.S, fz, ftheta, path.t), lam_S, tol),
        compared("(5),(10)", "term 1 + term 2 + term 3 vs backprop dL/dθ  [arbitrary λ]",
                 sum(arbitrary_terms), dL_dtheta, tol),
        vanishing("(11)", "term 1, [∂L/∂z(t1) − λ(t1)] dz(t1)/dθ, vs ‖dL/dθ‖  [adjoint λ]",
                  adjoint_terms[0], dL_dtheta, ROUND_OFF),
        vanishing("(11)", "term 2, ∫ (λ̇ + λ ∂f/∂z) dz/dθ dt, vs ‖dL/dθ‖  [adjoint λ]",
                  adjoint_terms[1], dL_dtheta, tol),
        *(compared("(12)", f"term 3 = −∫_t1^t0 λ ∂f/∂θ dt vs {method} dL/dθ  [adjoint λ]",
                   eq12, reference[method].theta, tol) for method in METHODS),
        compared("dL/dt_i", "[λ(t_i⁻) − λ(t_i⁺)]·f(z(t_i)) vs FD dL/dt_i, i ≥ 1  [adjoint λ]",
                 lg.dL_dtn(adjoint.lam, on_adjoint.f), reference["finite_differences"].ts[1:], tol),
        compared("dL/dt0", "−λ(t0⁺)·f(z0, θ, t0) vs FD dL/dt0  [adjoint λ]",
                 lg.dL_dt0(adjoint.lam, on_adjoint.f), dL_dt0_fd, tol),
        compared("comment", "comment: dL/dt_N + ∫_tN^t0 λ ∂f/∂t dt vs −(FD dL/dt0)  [adjoint λ]",
                 lg.comment_dL_dt0(adjoint.lam, on_adjoint.f, on_adjoint.lam_ft, path.t), -dL_dt0_fd, tol),
    ]


def _padded(text, width):
    """text left-aligned in `width` columns; combining marks (the dot of λ̇) take no column."""
    return text + " " * (width - sum(not unicodedata.combining(c) for c in text))


def table(rows):
    """The rows as a text table: equation, what is compared, the two sides, residual, tolerance, ok/FAIL."""
    lines = [f"{'eq.':<9}{'compared':<76}{'side a':>11}{'side b':>11}{'residual':>10}{'tol':>9}"]
    for row in rows:
        verdict = "ok" if row.residual <= row.tol else "FAIL"
        lines.append(f"{row.equation:<9}{_padded(row.what, 76)}{row.a:>11.4g}{row.b:>11.4g}"
                     f"{row.residual:>10.1e}{row.tol:>9.0e}  {verdict}")
    return "\n".join(lines)
