"""`adjoint-ref equations`: the derivation's equations checked one by one, with numbers.

On the default problem (`models.default_problem`) each row evaluates one equation of
`lagrangian` and compares its two sides, or, for a quantity that must vanish, its size against
the scale of the terms it comes from. λ is either an arbitrary smooth function (eqs. 4–10 hold
for any λ) or the adjoint of eq. (11), as the solver under test computes it. The products
λ ∂f/∂z, λ ∂f/∂θ, λ ∂f/∂t come from f's forward-mode Jacobians (`lagrangian.jacobians_along`),
never from the solvers, so a mistake in a solver fails the row of its own equation.

Tolerances follow from the numerics. RK4, Simpson's rule and five-point differences are all of
order 4, so every row that is not exact in exact arithmetic is evaluated twice, at the step h and at
h/2, and passes only if (a) its residual at h is at most (ω h)⁴, with ω the fastest rate in the
problem (`fastest_rate`): the larger of RATE = 3, which bounds the frequencies of the arbitrary λ and
of the path variation η (drawn from [0.5, 3]), and the largest ‖∂f/∂z‖₂ along the path (about 1 for
the default MLP, so ω = 3 there; 30–50 for Lorenz or a stiff linear flow), and (b) the residual
falls by the order it should: the observed order log₂(r(h) / r(h/2)) is at least MIN_ORDER = 3.3
(correct solves show 3.4–4.4 on every problem of the zoo; Kutta's third-order rule shows 3.0 on the
forward-solution row), unless r(h) is already at the floor where round-off or the finite
differences' own error hides the order. That floor is ORDER_FLOOR, or, for a row compared with
finite differences, ten times the gap between finite differences and backprop on the same
quantity: backprop differentiates the RK4 solution exactly, so that gap is the finite differences'
own error, measured. It is capped at FD_FLOOR_CAP, so that broken finite differences cannot hide
behind a floor of their own making. Rows that
hold exactly in exact arithmetic get ROUND_OFF and no order.

Every quantity a function of `lagrangian` returns reaches a row (tests/test_lagrangian.py moves each by
1 % and watches a row fail): both integrals of eq. (6), for instance, and ψ's value as well as its
derivative. The last rows, computed once (`other_rows`), run code the equations do not: a running
cost in the loss (`kinetic_energy`; its adjoint rows are also evaluated at h and h/2), the dopri5
adjoint, and the plain adjoint's drift monitor with checkpoints="auto".
"""
import unicodedata
import warnings
from collections import namedtuple

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad

from .. import lagrangian as lg
from ..adjoint import AdjointDriftWarning
from ..api import gradients
from ..methods import METHODS
from .._impl.metrics import relative_difference
from .._impl.tree import ravel_tree
from ..problems.models import default_problem
from ..problems.zoo import ZOO

RATE = 3.0  # the highest frequency an arbitrary λ or η may have (`lagrangian.smooth_multiplier`)
ROUND_OFF = 1e-12  # float64 ε ≈ 2.2e-16, summed over a few hundred operations, with a wide margin
# Every gradient a user can ask for: each method of the table, and the adjoint with checkpoints.
VARIANTS = {**{method: (method, {}) for method in METHODS},
            "adjoint, checkpoints=3": ("adjoint", {"checkpoints": 3})}
EXACT_TO_ROUND_OFF = ("backprop", "discrete_adjoint")  # the variants that differentiate the computed RK4 solution exactly
MIN_ORDER = 3.3  # the observed order a discretisation row must show (RK4, Simpson, five-point: 4)
ORDER_FLOOR = 1e-9  # below this residual the order is not measured (round-off)
FD_FLOOR_CAP = 1e-7  # the most a finite-difference floor may be: ε^(2/3) ≈ 4e-11 times a condition of 2500
RUNNING_COST_VARIANTS = ("adjoint", "adjoint, checkpoints=3")  # the methods with running-cost terms of their own
FD_STEPS = 2  # RK4 steps per interval where backprop and finite differences are compared with a running cost
DOPRI5_TOL = 1e-10  # rtol = atol of the dopri5 row
DOPRI5_ALLOWANCE = 30  # its tolerance in units of DOPRI5_TOL: the zoo shows 0.75–6 (adjoint vs backprop)
ZOO_TOL = 1e-6  # what every method meets against backprop at a zoo entry's own steps and checkpoints

Row = namedtuple("Row", ["equation", "what", "a", "b", "residual", "tol", "fine", "ordered", "floor"],
                 defaults=[None, True, ORDER_FLOOR])
Row.__doc__ = """One checked equation: its two sides a, b (numbers or norms), the relative residual, the tolerance,
`fine`, the residual at half the step (None for an exact row or before it is measured), and whether the
observed order is required of it, and the residual below which the order is not measured."""


def order(row):
    """The observed order log₂(r(h) / r(h/2)) of a row, or None when it is exact or at the floor."""
    if row.fine is None or row.residual <= max(row.floor, ORDER_FLOOR):
        return None
    return float(np.log2(row.residual / max(row.fine, 1e-300)))


def passed(row):
    """Whether a row is within its tolerance and, where measured, falls at least at MIN_ORDER."""
    observed = order(row)
    return row.residual <= row.tol and (observed is None or observed >= MIN_ORDER)


def longest_step(ts, n_steps):
    """h: the longest RK4 step, with n_steps equal steps on every observation interval."""
    return float(np.max(np.abs(np.diff(ts)))) / n_steps


def fastest_rate(jac):
    """ω: RATE (the arbitrary λ's highest frequency), or the largest ‖∂f/∂z‖₂ on the path if larger
    (30–50 for Lorenz or a stiff linear flow; about 1 for the default MLP)."""
    return max(RATE, float(np.max(np.linalg.norm(jac.f_z, ord=2, axis=(-2, -1)))))


def discretisation_tolerance(ts, n_steps, rate=RATE):
    """(ω h)⁴ with ω = rate and h the longest RK4 step: the O(h⁴) error allowed on a row."""
    return (rate * longest_step(ts, n_steps)) ** 4


def _size(x):
    """A single number itself (so its sign shows), anything else its Euclidean norm."""
    flat = ravel_tree(x)
    return float(flat[0]) if flat.size == 1 else float(np.linalg.norm(flat))


def compared(equation, what, a, b, tol):
    """A row for "a = b": the residual is ‖a − b‖ / max(‖a‖, ‖b‖)."""
    return Row(equation, what, _size(a), _size(b), relative_difference(a, b), tol)


def vanishing(equation, what, a, scale, tol):
    """A row for "a = 0": the residual is ‖a‖ / ‖scale‖, scale being the size a is measured against."""
    size, scale = _size(a), abs(_size(scale))
    residual = abs(size) / scale if scale > 0 else (0.0 if size == 0 else np.inf)
    return Row(equation, what, size, 0.0, residual, tol)


Evaluation = namedtuple("Evaluation", ["problem", "n_steps", "path", "loss", "dL_dzs", "arbitrary", "adjoint",
                                       "on_arbitrary", "on_adjoint", "reference", "observing_t0", "seed", "rate",
                                       "running"])
Evaluation.__doc__ = """What the rows are computed from: the forward `Path`, L and ∂L/∂z(t_i) (flat, one row per
time), the arbitrary and the adjoint `Multiplier` with their `Products`, {method: Gradients}, the same
for a loss that also observes z(t0), the seed of the arbitrary λ and of the path variation, ω
(`fastest_rate`), and {method: Gradients} with the running cost of `kinetic_energy` added to L."""


def t0_weight(problem, seed=0):
    """w, the weights of the term w·z(t0) that `with_t0_observed` adds to the loss."""
    return np.random.default_rng(seed + 7).normal(size=np.shape(problem.z0))


def with_t0_observed(problem, seed=0):
    """The same problem with w·z(t0) added to the loss, so ∂L/∂z(t0) ≠ 0 (the jump of λ at t0)."""
    w = t0_weight(problem, seed)
    loss = problem.loss

    def observing_t0(zs):
        return loss(zs) + np.sum(w * zs[0])

    return problem._replace(loss=observing_t0)


def observing_t0_by_differences(fd, z0, w):
    """Finite differences for the loss L + w·z(t0) from those for L (`fd`): z(t0) = z0 whatever θ and ts,
    and central differences of the linear z0 ↦ w·z0 are exact, so they add w to dL/dz0 and nothing else —
    what a second finite-difference run would compute, up to rounding, at the cost of none."""
    return fd._replace(loss=fd.loss + float(np.sum(w * z0)), z0=fd.z0 + w)


def kinetic_energy(f):
    """The running cost g(z, θ, t) = ½‖f(z, θ, t)‖² (1 + ½ sin 3t): the kinetic-energy regulariser of Neural
    ODEs (Finlay et al. 2020, "How to train your neural ODE"), weighted in t so that ∂g/∂z, ∂g/∂θ and
    ∂g/∂t are all nonzero on any problem."""
    def g(z, theta, t):
        return 0.5 * anp.sum(f(z, theta, t) ** 2) * (1.0 + 0.5 * anp.sin(3.0 * t))
    return g


def evaluate(problem, n_steps, seed=0, log=print, running_cost=True):
    """Solve `problem` forwards (with dz/dθ) and backwards (λ), and get every method's gradients, and with
    running_cost those of RUNNING_COST_VARIANTS and backprop with the running cost of `kinetic_energy`."""
    f, z0, theta, ts, loss = problem
    n_steps = lg.grid_steps(n_steps)
    log(f"{n_steps} steps: forward pass with dz/dθ (forward sensitivities)")
    path = lg.forward_path(f, z0, theta, ts, n_steps)
    zs = lg.at_observation_times(path.z).reshape((len(ts),) + z0.shape)
    loss_value, dL_dzs = value_and_grad(loss)(zs)
    log(f"{n_steps} steps: λ, an arbitrary smooth one and the adjoint (eq. 11, backwards); f's Jacobians")
    arbitrary = lg.smooth_multiplier(path.t, z0.size, seed)
    adjoint = lg.eq11_adjoint_multiplier(f, zs, theta, ts, n_steps, dL_dzs, path.t)
    jac = lg.jacobians_along(f, theta, path, z0.shape)
    reference, observing_t0, running = {}, {}, {}
    t0_problem = with_t0_observed(problem, seed)
    for label, (method, options) in VARIANTS.items():
        log(f"{n_steps} steps: reference gradients by {label}")
        reference[label] = gradients(loss, f, z0, theta, ts, n_steps, method, **options)
        observing_t0[label] = (observing_t0_by_differences(reference[label], z0, t0_weight(problem, seed))
                               if method == "finite_differences" else
                               gradients(t0_problem.loss, f, z0, theta, ts, n_steps, method, **options))
    with_cost = ("backprop",) + RUNNING_COST_VARIANTS if running_cost else ()
    if with_cost:
        log(f"{n_steps} steps: gradients with a running cost ∫ g dt")
    for label in with_cost:
        method, options = VARIANTS[label]
        running[label] = gradients(loss, f, z0, theta, ts, n_steps, method, running_loss=kinetic_energy(f), **options)
    return Evaluation(problem, n_steps, path, loss_value, dL_dzs.reshape(len(ts), -1), arbitrary, adjoint,
                      lg.along_path(jac, arbitrary.lam), lg.along_path(jac, adjoint.lam), reference,
                      observing_t0, seed, fastest_rate(jac), running)


def path_variation(ev):
    """η(t) and η̇(t) on the grid: per component, Σ a (sin(ω (t − t0) + φ) − sin φ), which vanishes at t0
    (z0 is fixed) — the arbitrary smooth function of `lagrangian.smooth_multiplier`, shifted."""
    t, ts, n = ev.path.t, ev.problem.ts, ev.problem.z0.size
    wave = lg.smooth_multiplier(t - ts[0], n, ev.seed + 11, waves=2)
    start = lg.smooth_multiplier(np.zeros_like(t), n, ev.seed + 11, waves=2)
    return wave.lam - start.lam, wave.lam_dot


def varied_lagrangian(ev, eta, eta_dot, epsilon):
    """ψ of eq. (4) with the adjoint λ, along the varied path z + ε η instead of the solution z: ż of the
    varied path is ż + ε η̇ (ż by five-point differences), and F = ż − f(z + ε η) is evaluated with f itself."""
    f, z0, theta, ts, loss = ev.problem
    path = ev.path
    z = path.z + epsilon * eta
    z_dot = lg.grid_derivative(path.z, path.t) + epsilon * eta_dot
    f_values = np.array([[np.ravel(f(zk.reshape(z0.shape), theta, tk)) for tk, zk in zip(t_row, z_row)]
                         for t_row, z_row in zip(path.t, z)])
    observed = lg.at_observation_times(z).reshape((len(ts),) + z0.shape)
    return lg.eq4_lagrangian(loss(observed), ev.adjoint.lam, lg.eq1_constraint(z_dot, f_values), path.t)


def stationarity(ev, delta=1e-3):
    """(dψ/dε, dL/dε) at ε = 0 along the path variation z + ε η (`path_variation`): dψ/dε by five-point
    differences in ε (error O(δ⁴)), dL/dε = Σ ∂L/∂z(t_i)·η(t_i) exactly.

    With the adjoint λ, ψ is stationary: dψ/dε = 0 while L itself changes. That is why λ is chosen as
    it is; a sign error in eq. (4), ψ = L + ∫ λF dt, makes dψ/dε = 2·dL/dε instead of 0.
    """
    eta, eta_dot = path_variation(ev)
    dpsi = sum(c * varied_lagrangian(ev, eta, eta_dot, k * delta) for k, c in zip(range(-2, 3), lg.CENTRED) if c)
    return float(dpsi / delta), float(np.sum(ev.dL_dzs * lg.at_observation_times(eta)))


def equation_rows(ev):
    """Eqs. (1)–(12) and the time gradients on the `Evaluation` ev, as a list of `Row`s."""
    path, z0, reference = ev.path, ev.problem.z0, ev.reference
    tol = discretisation_tolerance(ev.problem.ts, ev.n_steps, ev.rate)
    dL_dtheta = ravel_tree(reference["backprop"].theta)
    fd, fd_t0 = reference["finite_differences"], ev.observing_t0["finite_differences"]
    on_arbitrary, on_adjoint, adjoint = ev.on_arbitrary, ev.on_adjoint, ev.adjoint
    flat_z0 = np.ravel(z0)
    z_dot = lg.grid_derivative(path.z, path.t)
    lam, lam_dot, fz, ftheta = ev.arbitrary.lam, ev.arbitrary.lam_dot, on_arbitrary.lam_fz, on_arbitrary.lam_ftheta
    lam_S = lg.boundary(lg.row_times(lam, path.S))
    lam_z_dot, lam_f = lg.eq6_split(lam, z_dot, on_arbitrary.f, path.t)
    arbitrary_terms = lg.eq10_terms(ev.dL_dzs, lam, lam_dot, path.S, fz, ftheta, path.t)
    adjoint_terms = lg.eq10_terms(ev.dL_dzs, adjoint.lam, adjoint.lam_dot, path.S, on_adjoint.lam_fz,
                                  on_adjoint.lam_ftheta, path.t)
    eq12 = lg.eq12_gradient(on_adjoint.lam_ftheta, path.t)
    dpsi, dL = stationarity(ev)
    H = lg.hamiltonian(adjoint.lam, on_adjoint.f)
    others = [label for label in VARIANTS if label != "finite_differences"]
    # The finite differences' own error, measured against backprop (exact for the RK4 solution), times 10.
    bp, bp_t0 = reference["backprop"], ev.observing_t0["backprop"]
    floor_theta = min(10 * relative_difference(bp.theta, fd.theta), FD_FLOOR_CAP)
    floor_ts = min(10 * max(relative_difference(bp.ts[1:], fd.ts[1:]), relative_difference(bp.ts[0], fd.ts[0]),
                            relative_difference(bp.ts, fd.ts)), FD_FLOOR_CAP)
    floor_t0 = min(10 * relative_difference((bp_t0.z0, bp_t0.ts), (fd_t0.z0, fd_t0.ts)), FD_FLOOR_CAP)
    return [
        vanishing("(1)", "F = ż − f on the RK4 grid (ż: five-point differences), relative to ‖f‖",
                  lg.eq1_constraint(z_dot, on_arbitrary.f), on_arbitrary.f, tol),
        compared("(3)", "z(t_i) − z0, each i ≥ 1: RK4 vs ∫_t0^t_i f dt by Simpson's rule",
                 path.z[:, -1] - flat_z0, lg.eq3_forward_solution(z0, on_arbitrary.f, path.t) - flat_z0, tol),
        # ∫ λF is a signed integral of F = O(h⁴), whose parts cancel unevenly at coarse steps (observed order
        # 2.0 at 4 steps on a small problem, 3.7 at 10 on the default): the (1) row carries F's order.
        compared("(4)", "ψ = L − ∫ λF dt on the solution (F = ż − f ≈ 0) vs L  [adjoint λ]",
                 lg.eq4_lagrangian(ev.loss, adjoint.lam, lg.eq1_constraint(z_dot, on_adjoint.f), path.t), ev.loss,
                 tol)._replace(ordered=False),
        vanishing("(4)–(5)", "dψ/dε along z + εη, η(t0) = 0 (ψ stationary), relative to dL/dε  [adjoint λ]",
                  dpsi, dL, tol),
        vanishing("(6)", "∫ λż dt − ∫ λf dt − ∫ λF dt (F = ż − f: eq. 1), relative to ∫ λf dt  [arbitrary λ]",
                  lam_z_dot - lam_f - lg.integral(np.sum(lam * lg.eq1_constraint(z_dot, on_arbitrary.f), axis=-1),
                                                  path.t), lam_f, ROUND_OFF),
        compared("(6)–(7)", "∫ λż dt vs Σ_i [λz]_{t_{i-1}⁺}^{t_i⁻} − ∫ z λ̇ dt  [arbitrary λ]",
                 lam_z_dot, lg.eq7_by_parts(lam, lam_dot, path.z, path.t), tol),
        vanishing("(8)", "d/dθ ∫ λF dt, df/dθ by the chain rule, relative to ‖Σ_i [λ dz/dθ]‖  [arbitrary λ]",
                  lg.eq8_constraint_derivative(lam, lam_dot, path.S, lg.chain_rule(fz, path.S, ftheta), path.t),
                  lam_S, tol),
        vanishing("(9)", "d/dθ ∫ λF dt, terms regrouped, relative to ‖Σ_i [λ dz/dθ]‖  [arbitrary λ]",
                  lg.eq9_constraint_derivative(lam, lam_dot, path.S, fz, ftheta, path.t), lam_S, tol),
        compared("(5),(10)", "term 1 + term 2 + term 3 vs backprop dL/dθ  [arbitrary λ]",
                 sum(arbitrary_terms), dL_dtheta, tol),
        vanishing("(11)", "λ̇ + λ ∂f/∂z on the grid (λ̇: five-point diff.), relative to ‖λ ∂f/∂z‖  [adjoint λ]",
                  adjoint.lam_dot + on_adjoint.lam_fz, on_adjoint.lam_fz, tol),
        compared("(11)", "λ(t_{i-1}⁺) vs λ(t_i⁻) + ∫_{t_{i-1}}^{t_i} λ ∂f/∂z dt, each interval  [adjoint λ]",
                 adjoint.lam[:, 0], adjoint.lam[:, -1] + lg.simpson(on_adjoint.lam_fz, path.t), tol),
        vanishing("(11)", "term 1, Σ_i [∂L/∂z(t_i) − λ(t_i⁻) + λ(t_i⁺)] dz(t_i)/dθ, relative to ‖dL/dθ‖  [adjoint λ]",
                  adjoint_terms[0], dL_dtheta, ROUND_OFF),
        # Its two O(h⁴) parts (RK4's λ, five-point λ̇) partly cancel at coarse steps, so its observed
        # order wanders; the pointwise (11) row above carries the order check for the same quantity.
        vanishing("(11)", "term 2, Σ_i ∫_t_{i-1}^t_i (λ̇ + λ ∂f/∂z) dz/dθ dt, relative to ‖dL/dθ‖  [adjoint λ]",
                  adjoint_terms[1], dL_dtheta, tol)._replace(ordered=False),
        *(compared("(12)", f"term 3, −∫_tN^t0 λ ∂f/∂θ dt, vs {method} dL/dθ  [adjoint λ]",
                   eq12, reference[method].theta, tol)._replace(floor=floor_theta if method == "finite_differences"
                                                                 else ORDER_FLOOR) for method in VARIANTS),
        compared("dL/dt_i", "[λ(t_i⁻) − λ(t_i⁺)]·f(z(t_i)) vs FD dL/dt_i, i ≥ 1  [adjoint λ]",
                 lg.dL_dtn(adjoint.lam, on_adjoint.f), fd.ts[1:], tol)._replace(floor=floor_ts),
        compared("dL/dt0", "−λ(t0⁺)·f(z0, θ, t0) vs FD dL/dt0  [adjoint λ]",
                 lg.dL_dt0(adjoint.lam, on_adjoint.f), fd.ts[0], tol)._replace(floor=floor_ts),
        compared("comment", "comment: Σ_{i≥1} dL/dt_i + ∫_tN^t0 λ ∂f/∂t dt vs −(FD dL/dt0)  [adjoint λ]",
                 lg.comment_dL_dt0(adjoint.lam, on_adjoint.f, on_adjoint.lam_ft, path.t), -fd.ts[0],
                 tol)._replace(floor=floor_ts),
        vanishing("(H2)", "H = λ·f, each interval: [H]_{t_{i-1}⁺}^{t_i⁻} − ∫ λ ∂f/∂t dt, relative to ‖H‖  [adjoint λ]",
                  np.diff(H[:, [0, -1]], axis=1)[:, 0] - lg.simpson(on_adjoint.lam_ft, path.t), H[:, [0, -1]], tol),
        # Backprop and the discrete adjoint differentiate the RK4 solution exactly: their gap to finite
        # differences is the latter's own error, which does not shrink with h, so no order is asked of it.
        *(compared("dL/dts", f"{method} dL/dts (solver's own) vs FD", reference[method].ts, fd.ts, tol)
          ._replace(ordered=method not in EXACT_TO_ROUND_OFF, floor=floor_ts) for method in others),
        *(compared("z(t0)", f"L observes z(t0) too: {method} [dL/dz0, dL/dts] vs FD",
                   (ev.observing_t0[method].z0, ev.observing_t0[method].ts), (fd_t0.z0, fd_t0.ts), tol)
          ._replace(ordered=method not in EXACT_TO_ROUND_OFF, floor=floor_t0) for method in others),
        *(compared("∫ g dt", f"running cost ∫ ½‖f‖²(1 + ½ sin 3t) dt: {label} vs backprop",
                   flat_gradients(ev.running[label]), flat_gradients(ev.running["backprop"]), tol)
          for label in RUNNING_COST_VARIANTS if ev.running),
    ]


def flat_gradients(g):
    """[dL/dz0, dL/dθ, dL/dts] of a `Gradients` as one flat vector."""
    return np.concatenate([np.ravel(g.z0), ravel_tree(g.theta), np.ravel(g.ts)])


def heard(run):
    """(run(), the AdjointDriftWarnings it issued); any other warning is passed on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AdjointDriftWarning)
        result = run()
    for w in caught:
        if not issubclass(w.category, AdjointDriftWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, [w.message for w in caught if issubclass(w.category, AdjointDriftWarning)]


def running_cost_differences(problem, log=print):
    """Backprop against finite differences with the running cost of `kinetic_energy`, at FD_STEPS steps per
    interval: both differentiate the same RK4 solution, exactly at any step, so few steps do. Tolerance:
    ten times the two methods' gap without the running cost (the finite differences' own error on this
    problem, at least ORDER_FLOOR), capped at 10·FD_FLOOR_CAP."""
    f, z0, theta, ts, loss = problem
    log(f"{FD_STEPS} steps: backprop and finite differences, without and with a running cost")

    def both(g):
        return [flat_gradients(gradients(loss, f, z0, theta, ts, FD_STEPS, method, running_loss=g))
                for method in ("backprop", "finite_differences")]

    tol = min(max(10 * relative_difference(*both(None)), ORDER_FLOOR), 10 * FD_FLOOR_CAP)
    return compared("∫ g dt", f"running cost as above, {FD_STEPS} RK4 steps per interval: backprop vs FD (exact)",
                    *both(kinetic_energy(f)), tol)


def dopri5_row(problem, log=print):
    """solver="dopri5": the adjoint (eqs. 11–12 with adaptive backward steps) against backprop through the
    same accepted forward steps, rtol = atol = DOPRI5_TOL. The adjoint differentiates the exact flow,
    backprop the computed solution: they differ by a few tolerances (DOPRI5_ALLOWANCE). A solve that
    breaks down (on the contracting flow the adjoint's backward z blows up) fails the row."""
    f, z0, theta, ts, loss = problem
    log(f"dopri5 at rtol = atol = {DOPRI5_TOL:g}: adjoint and backprop")
    options = dict(solver="dopri5", rtol=DOPRI5_TOL, atol=DOPRI5_TOL)
    what = f"rtol = atol = {DOPRI5_TOL:g}: adjoint vs backprop through the same accepted steps"
    tol = DOPRI5_ALLOWANCE * DOPRI5_TOL
    try:
        adjoint, backprop = (flat_gradients(gradients(loss, f, z0, theta, ts, method=method, **options))
                             for method in ("adjoint", "backprop"))
    except (FloatingPointError, RuntimeError) as err:  # a solve that blew up, or gave up after too many steps
        return Row("dopri5", f"{what} ({type(err).__name__})", np.nan, np.nan, np.inf, tol)
    return compared("dopri5", what, adjoint, backprop, tol)


def drift_rows(log=print):
    """The plain adjoint's drift monitor as a user meets it (`AdjointDriftWarning`): it fires on the zoo's
    contracting flow, where z integrated backwards is garbage; checkpoints="auto" then runs the backward
    pass again with checkpoints and meets backprop to ZOO_TOL (the zoo's promise at its steps); and it
    stays quiet on the default problem. Residuals: threshold/drift (must be ≤ 1), the gap to backprop
    (infinite if there was no re-run), the number of warnings (must be 0)."""
    entry, quiet_steps = ZOO["contracting"], ZOO["mlp"].n_steps
    p, n = entry.make(), entry.n_steps
    log(f"the drift monitor: the contracting flow at {n} steps, the default problem at {quiet_steps}")
    args = (p.loss, p.f, p.z0, p.theta, p.ts, n)
    _, fired = heard(lambda: gradients(*args))
    auto, reran = heard(lambda: gradients(*args, checkpoints="auto"))
    rerun = next((w.rerun for w in reran if w.rerun), None)
    backprop = flat_gradients(gradients(*args, method="backprop"))
    default = default_problem()
    _, quiet = heard(lambda: gradients(default.loss, default.f, default.z0, default.theta, default.ts, quiet_steps))
    drift, threshold = (fired[0].drift, fired[0].threshold) if fired else (0.0, np.inf)
    rerun_row = compared("auto", f"zoo 'contracting', checkpoints='auto' reran with checkpoints={rerun}: vs backprop",
                         flat_gradients(auto), backprop, ZOO_TOL)
    return [Row("drift", f"zoo 'contracting', {n} steps: the plain adjoint warns, drift vs threshold",
                drift, threshold, threshold / drift if drift > 0 else np.inf, 1.0),
            rerun_row if rerun else rerun_row._replace(residual=np.inf),
            Row("drift", f"default problem, {quiet_steps} steps: AdjointDriftWarnings of the plain adjoint",
                len(quiet), 0, float(len(quiet)), 0.0)]


def other_rows(problem, log=print):
    """The rows computed once, not at two step sizes: code paths the equations above do not run (the
    running cost's finite differences, the dopri5 adjoint, the drift monitor and checkpoints="auto")."""
    return [running_cost_differences(problem, log), dopri5_row(problem, log), *drift_rows(log)]


def rows_at_two_steps(problem, n_steps, seed=0, log=print, running_cost=True):
    """`equation_rows` at n_steps, each with its residual at 2·n_steps as `fine` (for the observed order);
    without the running-cost rows unless running_cost."""
    coarse = equation_rows(evaluate(problem, n_steps, seed, log, running_cost))
    fine = equation_rows(evaluate(problem, 2 * n_steps, seed, log, running_cost))
    return [row._replace(fine=half.residual) if row.tol != ROUND_OFF and row.ordered else row
            for row, half in zip(coarse, fine)]


WHAT_WIDTH = 92  # the column of what a row computes: "vs" compares two sides, "relative to" names the scale


def checked_rows(problem, n_steps, seed=0, log=print):
    """Every row of `adjoint-ref equations`: `rows_at_two_steps`, then `other_rows`."""
    return rows_at_two_steps(problem, n_steps, seed, log) + other_rows(problem, log)


def _padded(text, width):
    """text left-aligned in `width` columns; combining marks (the dot of λ̇) take no column."""
    return text + " " * (width - sum(not unicodedata.combining(c) for c in text))


def table(rows):
    """The rows as a text table: equation, what is compared, the two sides, residual at h, tolerance,
    residual at h/2 and the observed order (where measured), ok/FAIL."""
    lines = [f"{'eq.':<9}{'compared':<{WHAT_WIDTH}}{'side a':>11}{'side b':>11}{'r(h)':>9}{'tol':>8}{'r(h/2)':>9}"
             f"{'order':>7}"]
    for row in rows:
        observed = order(row)
        fine = "" if row.fine is None else f"{row.fine:.1e}"
        lines.append(f"{row.equation:<9}{_padded(row.what, WHAT_WIDTH)}{row.a:>11.4g}{row.b:>11.4g}"
                     f"{row.residual:>9.1e}{row.tol:>8.0e}{fine:>9}{'' if observed is None else f'{observed:.1f}':>7}"
                     f"  {'ok' if passed(row) else 'FAIL'}")
    return "\n".join(lines)
