"""How much memory a gradient method will hold, and the guards that refuse too much before any work.

Two methods keep something for every RK4 step: backprop keeps autograd's recording of every stage
(`check_backprop_memory`), and the checkpointed and discrete adjoints keep states of z
(`check_stored_states`); forward sensitivities keep a matrix of size(z) × (size(z0) + size(θ))
numbers (`check_sensitivity_memory`). Each refuses, with `MemoryLimitError`, a solve that would need more than
MEMORY_LIMIT bytes. What one recorded step holds depends on f (a tanh MLP keeps its hidden layer,
batch × hidden numbers, for every stage), so the backprop estimate is measured on f itself.
"""
import threading
import tracemalloc
import weakref

import numpy as np
from autograd import make_vjp
from autograd.tracer import getval

from ..rk4 import interval_steps, solve_interval
from .tree import leaves, values
from .validate import plain_numpy_explained

MEMORY_LIMIT = 2 * 2**30  # bytes; a gradient method refuses to hold more (backprop's recording, stored states)
STATE_OVERHEAD = 300  # bytes Python adds to each stored state of z (array header, list and tuple slots)
KEPT_PER_STEP = 4  # z-sized arrays a recorded RK4 step keeps at least: its stages k1, …, k4

_measuring = threading.Lock()  # tracemalloc is one per process: one measurement at a time
_measured = weakref.WeakKeyDictionary()  # f → {shapes of z0 and θ's leaves: bytes of one recorded step}


class MemoryLimitError(ValueError):
    """A gradient method would need more than the memory limit; raised before the work starts.

    Attributes: `what` (what would take the memory, e.g. "backprop's recording of 4 interval(s) of
    20000 RK4 steps of this f"), `need` (the estimated bytes) and `limit` (bytes)."""

    def __init__(self, subject, what, need, limit, remedy):
        super().__init__(f"{subject}: {what} would need about {need / 2**30:.3g} GiB of memory, above the "
                         f"limit of {limit / 2**30:.3g} GiB (adjoint_ref._impl.memory.MEMORY_LIMIT). {remedy}")
        self.what, self.need, self.limit = what, need, limit


def recorded_step_bytes(f, z0, theta, t0, h):
    """Bytes autograd holds to reverse one RK4 step of f from (z0, θ, t0) with step h: measured with
    tracemalloc on one recorded step (four evaluations of f) and remembered for this f and these shapes.

    Allocations made meanwhile by other threads count too, so the measurement can only come out high.
    """
    z0, theta, t0 = np.asarray(getval(z0)), values(theta), getval(t0)
    shapes = (z0.shape, tuple(np.shape(leaf) for leaf in leaves(theta)))
    try:
        known = _measured.setdefault(f, {})
    except TypeError:  # f cannot be weakly referenced (a builtin, say): measure every time
        known = {}
    if shapes not in known:
        known[shapes] = _measure_step(f, z0, theta, t0, h)
    return known[shapes]


def _measure_step(f, z0, theta, t0, h):
    def one_step(z, theta, t):
        return solve_interval(f, z, theta, t, t + h, 1)

    with _measuring:
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            recording = make_vjp(one_step, argnum=(0, 1, 2))(z0, theta, t0)
            held = tracemalloc.get_traced_memory()[0] - before
            del recording
        finally:
            if started:
                tracemalloc.stop()
    return held


def estimated_backprop_bytes(f, z0, theta, ts, n_steps):
    """Memory backprop needs to record the forward pass: steps × the bytes one recorded step holds."""
    ts = np.asarray(getval(ts))
    steps = interval_steps(n_steps, len(ts) - 1)
    h = (ts[1] - ts[0]) / steps[0]
    return sum(steps) * recorded_step_bytes(f, z0, theta, ts[0], h)


def check_backprop_memory(f, z0, theta, ts, n_steps, limit=None):
    """MemoryLimitError naming n_steps if backprop would record more than `limit` bytes (estimated).

    When even KEPT_PER_STEP arrays the size of z per step exceed the limit, it refuses without
    measuring a step of f (which could itself take much memory)."""
    limit = MEMORY_LIMIT if limit is None else limit
    intervals = len(getval(ts)) - 1
    need = sum(interval_steps(n_steps, intervals)) * KEPT_PER_STEP * 8 * int(np.size(getval(z0)))
    if need <= limit:
        with plain_numpy_explained(f):  # the measurement traces f: the first place plain numpy fails
            need = estimated_backprop_bytes(f, z0, theta, ts, n_steps)
    if need > limit:
        raise MemoryLimitError(f"n_steps={n_steps} is too many for backprop",
                               f"backprop's recording of {intervals} interval(s) of {n_steps} RK4 steps of this f",
                               need, limit, "Use the adjoint, whose memory does not grow with n_steps, or fewer steps.")


def stored_states_bytes(z0, count):
    """Memory that `count` stored states of the shape of z0 take: their numbers and Python's overhead."""
    return count * (8 * int(np.size(getval(z0))) + STATE_OVERHEAD)


def check_stored_states(z0, count, subject, remedy, limit=None):
    """MemoryLimitError (saying `subject`, e.g. the method and its settings, and `remedy`) if keeping
    `count` states of z needs more than `limit` bytes."""
    check_need(stored_states_bytes(z0, count), subject, f"storing {count} states of z (shape {np.shape(getval(z0))})",
               remedy, limit)


def sensitivity_bytes(n, n_theta, n_times):
    """Memory forward sensitivities hold: S = [dz/dz0, dz/dθ], n × (n + n_theta) numbers for a state of
    n numbers, kept at each of the n_times observation times and about SENSITIVITY_COPIES more times
    by an RK4 step (its stages and sums) and the n Jacobian rows it builds."""
    return 8 * n * (n + n_theta + 1) * (n_times + SENSITIVITY_COPIES)


SENSITIVITY_COPIES = 8  # S-sized arrays an RK4 step of [z, S] holds besides the stored ones


def check_sensitivity_memory(z0, theta, ts, limit=None):
    """MemoryLimitError if forward sensitivities on z0, θ and ts would hold more than `limit` bytes."""
    n, n_theta, n_times = int(np.size(getval(z0))), int(sum(np.size(leaf) for leaf in leaves(values(theta)))), \
        len(getval(ts))
    check_need(sensitivity_bytes(n, n_theta, n_times), "forward sensitivities",
               f"dz/dz0 and dz/dθ, {n} × {n + n_theta} numbers at {n_times} times", "Use the adjoint or "
               "backprop, whose memory does not grow with size(z0) × (size(z0) + size(θ)).", limit)


def check_need(need, subject, what, remedy, limit=None):
    """MemoryLimitError(subject, what, need, limit, remedy) if `need` bytes are above `limit`
    (default MEMORY_LIMIT)."""
    limit = MEMORY_LIMIT if limit is None else limit
    if need > limit:
        raise MemoryLimitError(subject, what, need, limit, remedy)
