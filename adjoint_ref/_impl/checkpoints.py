"""The checkpointed adjoint: z recomputed forwards from checkpoints instead of integrated backwards.

On an interval of n_steps RK4 steps the forward pass is run again from the stored z(t_{i−1}) to keep
z at the start of each of K segments (memory O(K)). Then, segment by segment from the last, z is
re-integrated forwards from its checkpoint at half steps (memory O(n_steps / K)), so that every RK4
stage of the backward step (at t, t − h/2, t − h) reads z(t) from storage; eqs. (11)–(12) are then
solved backwards along that z. checkpoints="auto" runs the plain adjoint first and only if its
backward z drifted (`drift.AdjointDriftWarning`) runs again with K = ⌈√n_steps⌉.
"""
import math
import warnings

import numpy as np

from ..rk4 import rk4_step, solve_interval, step_states
from .drift import AdjointDriftWarning, warn
from .memory import check_stored_states
from .validate import add_note, check_finite_state


def segment_bounds(n_steps, checkpoints):
    """Step indices 0 = b_0 < b_1 < … < b_K = n_steps cutting an interval into K near-equal segments
    (K = checkpoints, at most n_steps); a checkpoint keeps z at the first step of each segment."""
    k = min(checkpoints, n_steps)
    return [j * n_steps // k for j in range(k + 1)]


def auto_checkpoints(n_steps):
    """K = ⌈√n_steps⌉: the checkpoints per interval needing the least memory, O(K + n_steps/K) = O(√n_steps)."""
    return math.ceil(math.sqrt(n_steps))


def check_checkpoint_memory(z0, n_steps, checkpoints):
    """`memory.MemoryLimitError` if the checkpointed adjoint would store too many states of z: K
    checkpoints and the 2⌈n_steps/K⌉ + 1 half-step states of the longest segment (see `cross`).
    With checkpoints="auto", the K of its possible rerun; with None, nothing is stored. n_steps per
    interval may differ (a tuple): the longest interval counts."""
    if checkpoints is None:
        return
    n_steps = max(n_steps) if isinstance(n_steps, tuple) else n_steps
    k = min(auto_checkpoints(n_steps) if checkpoints == "auto" else checkpoints, n_steps)
    check_stored_states(z0, k + 2 * math.ceil(n_steps / k) + 1,
                        f"the checkpointed adjoint with checkpoints={checkpoints!r} and n_steps={n_steps}",
                        f"Use more checkpoints: K = {auto_checkpoints(n_steps)} (about √n_steps) needs the least.")


def cross(dynamics_along, f, theta, s, z_start, t_start, t_end, n_steps, checkpoints, keep=False):
    """(s at t_start, [(t, s) after every step] if keep else None): the augmented state s = [z, λ, a_θ, a_t]
    carried from t_end back to t_start by n_steps RK4 steps of dynamics_along(z_at), whose stages read z
    from z_at(t), the forward z re-integrated from `checkpoints` checkpoints (module docstring)."""
    h = (t_end - t_start) / n_steps
    bounds = segment_bounds(n_steps, checkpoints)
    times = [t_start + b * h for b in bounds[:-1]] + [t_end]
    kept = [z_start]
    for j in range(len(bounds) - 2):
        kept.append(solve_interval(f, kept[-1], theta, times[j], times[j + 1], bounds[j + 1] - bounds[j]))
    states = [] if keep else None
    for j in range(len(bounds) - 2, -1, -1):
        m, t_a = bounds[j + 1] - bounds[j], times[j]
        zs_half = step_states(f, kept[j], theta, t_a, times[j + 1], 2 * m)
        half = (times[j + 1] - t_a) / (2 * m)
        ds_dt = dynamics_along(lambda t: zs_half[int(round((t - t_a) / half))])
        step = (t_a - times[j + 1]) / m
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(m):
                t = times[j + 1] + k * step
                try:
                    s = rk4_step(ds_dt, s, theta, t, step)
                except Exception as err:
                    add_note(err, f"raised in the RK4 step from t={t:.6g} to t={t + step:.6g} during the backward pass")
                    raise
                check_finite_state(s, t + step, "backward")
                if keep:
                    states.append((t + step, s))
        zs_half = None  # free this segment's states before the next segment stores its own
    return s, states


def plain_then_checkpointed(backward, n_steps, stats=None):
    """checkpoints="auto": backward(checkpoints=None) (the plain adjoint) and, if its backward z drifted, an
    AdjointDriftWarning saying so and backward(checkpoints=K) with K = ⌈√n_steps⌉ instead (a traced pass
    then carries the plain pass's drift checks, the only ones made). stats, a dict, gets
    stats["backward"]["reruns"]: 1 if the second pass ran, else 0."""
    if stats is not None:
        stats.setdefault("backward", {})["reruns"] = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AdjointDriftWarning)
        result = backward(checkpoints=None)
    drifts = [w.message for w in caught if issubclass(w.category, AdjointDriftWarning)]
    if not drifts:
        return result
    k, first = auto_checkpoints(n_steps), drifts[0]
    warn(AdjointDriftWarning(first.t, first.drift, first.threshold, rerun=k, effect=first.effect,
                             effect_threshold=first.effect_threshold))
    rerun = backward(checkpoints=k)
    if stats is not None:
        stats["backward"]["reruns"] = 1
    traced = hasattr(rerun, "drift")  # a traced pass (`adjoint.Backward`) keeps the plain pass's drift checks
    return rerun._replace(drift=result.drift) if traced else rerun
