"""The public API: `odeint` (a differentiable solve) and `gradients` (dL/dz0, dL/dθ, dL/dts).

Data flow: validate → one gradient method from `methods.METHODS` (forward RK4, eq. 3, then its
pullback) → ∂L/∂zs → dL/dz0, dL/dθ (flat), dL/dts → θ's containers rebuilt once → `Gradients`.
"""
import warnings
from collections import namedtuple

import numpy as np
from autograd import make_vjp
from autograd.builtins import dict as ag_dict, list as ag_list, tuple as ag_tuple
from autograd.extend import defjvp_argnums, defvjp_argnums, primitive
from autograd.tracer import getval

from . import reversible, running_cost
from ._impl import validate
from ._impl.checkpoints import auto_checkpoints, segment_bounds
from ._impl.counts import Counted
from ._impl.memory import check_backprop_memory
from .methods import DOPRI5_METHODS, METHODS, REVERSIBLE_METHODS, SOLVERS, adaptive_forward
from .rk4 import integrate, interval_steps
from ._impl.tree import unravel_like

DEFAULT_N_STEPS = 20  # RK4 steps per observation interval
DENSE_GRID = 100  # from this many observation times on, leaving n_steps at its default gets a warning
GRADIENT_METHODS = ("adjoint", "backprop")  # how `odeint` may be differentiated by autograd

Gradients = namedtuple("Gradients", ["loss", "z0", "theta", "ts"])
Gradients.__doc__ = """The loss value L and its gradients dL/dz0, dL/dθ (θ's container structure), dL/dts."""


class DenseGridWarning(UserWarning):
    """n_steps was left at its default on many observation times: n_steps counts RK4 steps per
    observation interval, so a solve takes n_steps × (len(ts) − 1) steps in all."""


# Keyword arguments of torchdiffeq, diffrax and jax.experimental.ode, and what corresponds here.
STEPS = "n_steps, the number of RK4 steps per observation interval [ts[i], ts[i+1]]"
OTHER_LIBRARIES = {
    "options": f"torchdiffeq's solver options; here solver='rk4' takes {STEPS}, or step_size=h (torchdiffeq's "
               "options=dict(step_size=h)), and solver='dopri5' takes rtol and atol",
    "dt0": f"diffrax's initial step; here solver='rk4' takes {STEPS}, and solver='dopri5' chooses its steps",
    "adjoint_params": "torchdiffeq's parameters to differentiate; here θ is explicit: odeint(f, z0, theta, ts) "
                      "with f(z, theta, t), and every leaf of theta gets a gradient",
    "adjoint": "diffrax's adjoint=BacksolveAdjoint() is method='adjoint' here (gradient='adjoint' in odeint), "
               "RecursiveCheckpointAdjoint() is method='discrete_adjoint' (or 'backprop'), and the adjoint "
               "with checkpoints=K is BacksolveAdjoint with z recomputed forwards from checkpoints",
    "adjoint_options": "torchdiffeq's options of the backward solve; here solver='rk4' takes n_steps for both "
                       "directions, solver='dopri5' takes adjoint_rtol and adjoint_atol (and seminorm=True), and "
                       "checkpoints=K recomputes z forwards instead of integrating it backwards",
    "event_fn": "torchdiffeq's terminating events: adjoint_ref has no events; it solves over the fixed times ts "
                "(to stop at an event, solve past it and locate it in the returned states yourself)",
    "saveat": f"diffrax's SaveAt(ts=...): here the states are saved at the observation times ts themselves, "
              f"and {STEPS}",
    "max_num_steps": "diffrax's/jax's cap on the adaptive steps: solver='dopri5' here has no cap and chooses its "
                     f"steps from rtol and atol; solver='rk4' takes {STEPS}",
    "method": f"odeint's solver is solver='rk4' (the default, {STEPS}) or solver='dopri5' (adaptive, rtol and "
              "atol), as torchdiffeq's method= chooses one; gradient='adjoint' or 'backprop' chooses how "
              "autograd differentiates it",
}
SOLVER_NAMES = ("rk4", "dopri5", "reversible_heun", "dopri8", "bosh3", "euler", "midpoint", "heun", "adaptive_heun",
                "fehlberg2", "explicit_adams", "implicit_adams", "fixed_adams", "scipy_solver", "tsit5", "kvaerno5", "ralston")


def refuse_other_libraries(function, keywords):
    """A TypeError for the first keyword argument `function` does not take, saying what torchdiffeq's,
    diffrax's or jax's argument of that name corresponds to here."""
    for name in keywords:
        hint = OTHER_LIBRARIES.get(name)
        raise TypeError(f"{function}() got an unexpected keyword argument {name!r}" + (f": {hint}" if hint else ""))


def refuse_solver_as_method(method):
    """A ValueError if `gradients`' method names an ODE solver (torchdiffeq's method="rk4" or "dopri5")."""
    if isinstance(method, str) and method.lower() in SOLVER_NAMES:
        raise ValueError(f"method={method!r} names an ODE solver (as torchdiffeq's method= does); here method "
                         f"chooses how the gradient is computed, one of {', '.join(map(repr, METHODS))}, and "
                         f"solver= the solver: 'rk4' (the default, {STEPS}) or 'dopri5' (adaptive, rtol and atol)")


def warn_if_dense(n_steps, solver, ts, step_size=None):
    """A DenseGridWarning if n_steps (and step_size) was left at its default (RK4) on DENSE_GRID or more
    observation times."""
    intervals = len(getval(ts)) - 1
    if n_steps is None and step_size is None and solver == "rk4" and intervals + 1 >= DENSE_GRID:
        warnings.warn(DenseGridWarning(
            f"n_steps counts RK4 steps per observation interval: its default {DEFAULT_N_STEPS} on the {intervals} "
            f"intervals of ts makes {DEFAULT_N_STEPS * intervals} steps in all. Pass n_steps explicitly "
            "(n_steps=1: one step per interval) to choose, and to silence this warning."), stacklevel=3)


def odeint(f, z0, theta, ts, n_steps=None, gradient="adjoint", checkpoints=None, solver="rk4", rtol=None,
           atol=None, adjoint_rtol=None, adjoint_atol=None, seminorm=False, stats=None, step_size=None, **unknown):
    """Solve dz/dt = f(z, θ, t), z(ts[0]) = z0 (eqs. 1–3), and return zs with zs[i] = z(ts[i]).

    n_steps (default 20) counts RK4 steps PER OBSERVATION INTERVAL: each [ts[i], ts[i+1]] gets
    n_steps equal steps, n_steps × (len(ts) − 1) in all (a DenseGridWarning says so when the default
    meets 100 or more times); a sequence of len(ts) − 1 integers gives each interval its own count.
    step_size=h instead gives interval i ⌈|ts[i+1] − ts[i]| / h⌉ equal steps (every observation time is
    still hit exactly; no step is longer than h). f(z, theta, t) returns dz/dt with the shape of z (a vector (D,) or a
    batch (B, D)), written with autograd.numpy. ts holds at least two strictly monotone times
    (decreasing integrates backwards).
    The result, of shape (len(ts),) + z0.shape, is differentiable by autograd with respect to
    z0, theta and ts: gradient="adjoint" differentiates it by the continuous adjoint
    (eqs. 11–12, memory independent of n_steps); gradient="backprop" lets autograd record
    and reverse every RK4 stage. checkpoints=K (adjoint only) recomputes z forwards from K
    checkpoints per interval instead of integrating it backwards (see `gradients`).
    solver="dopri5" uses adaptive Dormand–Prince steps instead, with tolerances rtol and atol
    (`gradients` explains them and the other arguments; stats receives the step counts). Keyword
    arguments of other libraries (method=, step_size=, options=, ...) get a TypeError naming the
    equivalent here. gradient="adjoint" supports one reverse-mode derivative (grad, make_vjp); for
    second derivatives (grad of grad) or forward mode (make_jvp) use gradient="backprop", which
    supports both.
    """
    refuse_other_libraries("odeint", unknown)
    validate.choice(gradient, GRADIENT_METHODS, "gradient")
    z0, theta, ts = validate.inputs(f, z0, theta, ts)
    warn_if_dense(n_steps, solver, ts, step_size)
    table, grid, options = _solver_settings(solver, gradient, "gradient", (n_steps, step_size, ts), checkpoints,
                                            stats, None, rtol=rtol, atol=atol, adjoint_rtol=adjoint_rtol,
                                            adjoint_atol=adjoint_atol, seminorm=seminorm)
    if solver == "rk4" and stats is not None:
        raise ValueError("odeint's stats applies to solver='dopri5' only (gradients and adjoint_trajectory count "
                         "RK4's evaluations too)")
    if gradient == "backprop":
        with validate.plain_numpy_explained(f):
            if solver == "dopri5":
                return adaptive_forward(f, z0, theta, ts, grid, stats)[0]
            if solver == "reversible_heun":
                return reversible.integrate(f, z0, theta, ts, grid)
            if validate.is_traced(z0, theta, ts):
                check_backprop_memory(f, z0, theta, ts, grid)
            return integrate(f, z0, theta, ts, grid)

    def solve(f, z0, theta, ts):
        return table["adjoint"](f, z0, theta, ts, grid, **options)

    return _odeint_adjoint(z0, _traceable(theta), ts, f, solve, [None])


def _adjoint_only(checkpoints, method, name):
    if checkpoints is not None and method != "adjoint":
        raise ValueError(f"checkpoints applies to {name}='adjoint' only, got {name}={method!r}")
    return checkpoints


def _solver_settings(solver, method, name, steps, checkpoints, stats, running_loss, **adaptive):
    """(the solver's table of gradient methods, its grid argument, the method's options): the grid is
    the RK4 steps per interval for solver="rk4" (from steps = (n_steps, step_size, ts), `validate.as_grid`)
    and validate.Tolerances for solver="dopri5"; the other solver's arguments are refused with an error
    naming them. `name` is what the caller calls `method`. With solver="rk4", stats goes to the options as
    "counts" (`forward_and_loss` counts f); with "dopri5" as "stats" (the controllers count)."""
    n_steps, step_size, ts = steps
    validate.choice(solver, tuple(SOLVERS), "solver")
    checkpoints = _adjoint_only(validate.as_checkpoints(checkpoints), method, name)
    if stats is not None and not isinstance(stats, dict):
        raise TypeError(f"stats must be a dict to fill in, or None; got {type(stats).__name__}")
    if solver == "rk4":
        for key, value in adaptive.items():
            if value is not None and value is not False:
                raise ValueError(f"{key} applies to solver='dopri5' only; solver='rk4' takes n_steps or step_size")
        grid = validate.as_grid(n_steps, step_size, ts, DEFAULT_N_STEPS)
        options = {} if checkpoints is None else {"checkpoints": checkpoints}
        return METHODS, grid, options if stats is None else dict(options, counts=stats)
    if solver == "reversible_heun":
        others = dict(adaptive, step_size=step_size, stats=stats)
        return _reversible_settings(method, name, n_steps, checkpoints, others,
                                    running_loss)
    for key, value in (("n_steps", n_steps), ("step_size", step_size), ("checkpoints", checkpoints),
                       ("running_loss", running_loss)):
        if value is not None:
            raise ValueError(f"{key} applies to solver='rk4' only, not to solver='dopri5' (which chooses its "
                             "own steps from rtol and atol)")
    validate.choice(method, tuple(DOPRI5_METHODS), f"{name} (with solver='dopri5')")
    return DOPRI5_METHODS, validate.tolerances(method, **adaptive), {"stats": stats}


def _reversible_settings(method, name, n_steps, checkpoints, others, running_loss):
    """(REVERSIBLE_METHODS, n_steps, no options) for solver="reversible_heun": one number of fixed steps
    per interval, and none of the other solvers' options (`others`: the adaptive ones, step_size and
    stats; it needs no checkpoints: its adjoint undoes the steps)."""
    refused = dict(others, checkpoints=checkpoints, running_loss=running_loss)
    for key, value in refused.items():
        if value is not None and value is not False:
            raise ValueError(f"{key} is not supported with solver='reversible_heun', which takes n_steps "
                             f"(and {name}='adjoint', 'backprop' or 'finite_differences')")
    validate.choice(method, tuple(REVERSIBLE_METHODS), f"{name} (with solver='reversible_heun')")
    return REVERSIBLE_METHODS, validate.as_n_steps(DEFAULT_N_STEPS if n_steps is None else n_steps), {}


def _traceable(theta):
    """Rebuild θ's containers with autograd's container primitives, so that an autograd box
    nested inside a list/tuple/dict still reaches the primitive below."""
    if isinstance(theta, (list, tuple)):
        items = [_traceable(item) for item in theta]
        return ag_tuple(items) if isinstance(theta, tuple) else ag_list(items)
    if isinstance(theta, dict):
        return ag_dict({key: _traceable(value) for key, value in theta.items()})
    return theta


@primitive
def _odeint_adjoint(z0, theta, ts, f, solve, pullback):
    """zs from solve(f, z0, θ, ts), the adjoint method of the solver's table; the pullback it returns
    is kept in pullback[0] for autograd's reverse pass."""
    zs, pullback[0] = solve(f, z0, theta, ts)
    return zs


def _odeint_adjoint_vjp(argnums, zs, args, kwargs):
    z0, theta, ts, f, solve, pullback = args

    def vjp(g):
        if validate.is_traced(g, zs, z0, theta, ts):
            raise NotImplementedError(
                "odeint(gradient='adjoint') can be differentiated once (grad, make_vjp), not twice: its "
                "backward pass (eqs. 11–12) is not differentiable by autograd. For second derivatives "
                "(grad of grad, Hessian-vector products) use odeint(..., gradient='backprop').")
        with validate.plain_numpy_explained(f):
            g_z0, g_theta, g_ts = pullback[0](g)
        grads = (g_z0, unravel_like(g_theta, theta), g_ts)
        return tuple(grads[i] for i in argnums)

    return vjp


def _odeint_adjoint_jvp(argnums, tangents, zs, args, kwargs):
    raise NotImplementedError(
        "forward mode (make_jvp) through odeint(gradient='adjoint') is not supported: the adjoint is a "
        "reverse-mode method. Use odeint(..., gradient='backprop'), whose RK4 steps autograd also "
        "differentiates in forward mode, or gradients(..., method='forward_sensitivity') for dz/dz0 and dz/dθ.")


defvjp_argnums(_odeint_adjoint, _odeint_adjoint_vjp)
defjvp_argnums(_odeint_adjoint, _odeint_adjoint_jvp)


def _loss_and_gradient(loss, zs):
    if not callable(loss):
        raise TypeError(f"loss must be callable as loss(zs), got {type(loss).__name__}")
    vjp, value = make_vjp(loss)(zs)
    validate.check_loss_value(value)
    return float(np.ravel(value)[0]), vjp(np.ones(np.shape(value)))


def gradients(loss, f, z0, theta, ts, n_steps=None, method="adjoint", checkpoints=None, running_loss=None,
              solver="rk4", rtol=None, atol=None, adjoint_rtol=None, adjoint_atol=None, seminorm=False, stats=None,
              step_size=None, **unknown):
    """L = loss(odeint(f, z0, θ, ts)) and its gradients, as Gradients(loss, z0, theta, ts).

    method: "adjoint" (eqs. 11–12, backwards in time), "backprop" (autograd through the RK4
    stages), "finite_differences" (central differences of the forward pass), "forward_sensitivity"
    (dz/dθ and dz/dz0 integrated forwards alongside z, see `sensitivity`) or "discrete_adjoint"
    (the exact gradient of the RK4 solution by transposing its steps; equals backprop to round-off).
    checkpoints (method="adjoint" only): None integrates z backwards alongside λ, which fails for
    strongly contracting dynamics; K re-integrates z forwards from K checkpoints per observation
    interval instead (memory O(K + n_steps/K)). dL/dθ comes back in θ's container structure with
    float64 arrays as leaves; dL/dts is an array like ts. `gradients` returns numbers: autograd cannot
    differentiate through it (apply autograd to `odeint` instead).
    running_loss=g (g(z, theta, t) returning a scalar) adds a running cost: L = loss(zs) + ∫_{ts[0]}^{ts[-1]}
    g(z(t), θ, t) dt, the integral taken by the same RK4 steps as z (see `running_cost`); every method
    supports it, the adjoint by the extra terms −∂g/∂z, −∂g/∂θ, −∂g/∂t in its backward equations.

    solver="rk4" (the default) takes n_steps (default 20) equal RK4 steps PER OBSERVATION INTERVAL,
    one count for all or one per interval, or step_size=h (⌈|Δt|/h⌉ steps per interval), as in `odeint`. solver="dopri5" chooses its own steps by adaptive Dormand–Prince 5(4) (`adaptive`)
    with relative and absolute tolerances rtol, atol (default 1e-7, 1e-9); methods "adjoint" (backward
    steps of its own, tolerances adjoint_rtol, adjoint_atol defaulting to rtol, atol; seminorm=True
    leaves the parameter and time integrals out of the backward error norm), "backprop" (through the
    accepted steps, their sizes held fixed) and "finite_differences" (of the accepted steps replayed);
    see `methods`. checkpoints and running_loss apply to solver="rk4".
    stats, a dict, receives the counts of the "forward" and the "backward" pass: "accepted" and
    "rejected" steps and "f_evals" (dopri5's backward: evaluations of the augmented dynamics); with
    RK4 also "vjps" (the evaluations of f autograd recorded for a VJP), the backward's "recomputed" (RK4
    steps of z re-run forwards: from checkpoints, or the discrete adjoint's step states) and, for
    checkpoints="auto", "reruns" (1 if z drifted and the backward pass ran again with checkpoints).
    solver="reversible_heun" takes n_steps equal reversible Heun steps per interval (order 2, `reversible`)
    with methods "adjoint" (the discrete adjoint of its steps, undone one by one: the exact gradient of
    its zs in memory independent of n_steps), "backprop" and "finite_differences"; it is stable only
    for oscillatory dynamics (eigenvalues h·c on [−i, i]) and diverges on strongly decaying modes.
    Keyword arguments of other libraries (options=, dt0=, ...) and solver names as method
    (method="rk4") get an error naming the equivalent here.
    """
    refuse_other_libraries("gradients", unknown)
    refuse_solver_as_method(method)
    validate.choice(method, tuple(METHODS), "method")
    z0, theta, ts = validate.inputs(f, z0, theta, ts)
    warn_if_dense(n_steps, solver, ts, step_size)
    validate.not_traced(z0, theta, ts)
    table, grid, options = _solver_settings(solver, method, "method", (n_steps, step_size, ts), checkpoints, stats,
                                            running_loss, rtol=rtol, atol=atol, adjoint_rtol=adjoint_rtol,
                                            adjoint_atol=adjoint_atol, seminorm=seminorm)
    if running_loss is not None:
        validate.check_running_loss(running_loss, z0, theta, ts[0])
    before = validate.snapshot(z0, theta)
    with validate.plain_numpy_explained(f):
        pullback, value, dL_dzs = forward_and_loss(table, method, loss, f, z0, theta, ts, grid, running_loss, **options)
        grads = pullback(dL_dzs)
    validate.unchanged(z0, theta, before)
    return collected(method, value, grads, theta)


def forward_and_loss(table, method, loss, f, z0, theta, ts, grid, running_loss=None, counts=None, **options):
    """(pullback, L, ∂L/∂zs) for inputs already validated: the forward pass of table[method] (table:
    METHODS or DOPRI5_METHODS, on the grid n_steps or tolerances) with its options (such as
    checkpoints=K, or trace=True for the adjoint's `Backward` record) and the loss's gradient; with a running_loss g,
    L includes ∫ g dt and the pullback its gradients (`running_cost.solve`, RK4 only). counts, a dict
    (RK4), receives the f evaluations of both passes (`counted_pullback`)."""
    if counts is not None:
        counter = Counted(f)
        told = dict(options, stats=counts) if method == "adjoint" else options  # the adjoint says if it re-ran
        pullback, value, dL_dzs = forward_and_loss(table, method, loss, counter, z0, theta, ts, grid, running_loss,
                                                   **told)
        return counted_pullback(pullback, counter, counts, method, grid, len(ts) - 1, options), value, dL_dzs
    if running_loss is None:
        (zs, pullback), cost = table[method](f, z0, theta, ts, grid, **options), 0.0
    else:
        zs, cost, pullback = running_cost.solve(method, f, running_loss, z0, theta, ts, grid, **options)
    value, dL_dzs = _loss_and_gradient(loss, zs)
    for t, dL_dz in zip(ts, dL_dzs):
        validate.check_finite_state(dL_dz, t, "backward", "the loss gradient ∂L/∂z")
    return pullback, value + float(cost), dL_dzs


def collected(method, value, grads, theta):
    """`Gradients` from L and a pullback's (dL/dz0, dL/dθ flat, dL/dts), θ's containers rebuilt."""
    g_z0, g_theta, g_ts = grads
    validate.check_finite_gradients(method, z0=g_z0, theta=g_theta, ts=g_ts)
    return Gradients(value, np.asarray(g_z0, dtype=np.float64), unravel_like(g_theta, theta),
                     np.asarray(g_ts, dtype=np.float64))


def counted_pullback(pullback, counter, counts, method, grid, intervals, options):
    """`pullback` that fills counts["backward"] when it runs, after counts["forward"] is filled now from
    `counter` (the counted f of the forward pass): f evaluations and VJPs measured, and the RK4 steps of
    each pass from the grid (`rk4_steps`)."""
    steps = interval_steps(grid, intervals)
    counts["forward"] = dict(accepted=sum(steps), rejected=0, **counter.take())

    def counting(dL_dzs):
        counts["backward"] = {}
        result = pullback(dL_dzs)
        backward = rk4_steps(method, steps, options.get("checkpoints"), counts["backward"].get("reruns", 0))
        counts["backward"].update(backward, rejected=0, **counter.take())
        return result

    return counting


def rk4_steps(method, steps, checkpoints, reruns):
    """{"accepted": RK4 steps of the backward pass, "recomputed": RK4 steps of z re-run forwards} for a
    gradient method on the steps (n_1, …, n_N): the adjoint takes n_i steps per interval (twice if
    checkpoints="auto" ran again), and with K checkpoints re-runs the segments before the last (to store
    the checkpoints) and every segment at half steps (2 n_i); the discrete adjoint transposes n_i steps
    and recomputes their states; the other methods have no backward RK4 steps."""
    if method == "discrete_adjoint":
        return {"accepted": sum(steps), "recomputed": sum(steps)}
    if method != "adjoint":
        return {"accepted": 0, "recomputed": 0}
    k = auto_checkpoints(max(steps)) if checkpoints == "auto" and reruns else checkpoints
    recomputed = 0 if k is None or k == "auto" else sum(segment_bounds(n, k)[-2] + 2 * n for n in steps)
    return {"accepted": sum(steps) * (1 + reruns), "recomputed": recomputed}
