"""How much memory backprop's recording of the forward pass needs, and the guard that refuses too much."""
import numpy as np
from autograd.tracer import getval

BACKPROP_MEMORY_LIMIT = 2 * 2**30  # bytes; backprop refuses to record more (estimated_backprop_bytes)

RK4_STAGES = 4
# Measured with tracemalloc (autograd 1.9.1, f = θ·z; tests/test_hostile.py checks it): recording one
# RK4 stage for z0, θ and ts, as gradients(method="backprop") does, keeps about two arrays the size
# of z and about 7 kB of autograd's own bookkeeping. f's intermediate arrays come on top (a tanh MLP
# needs 3–5 times the estimate); recording for θ alone needs about half.
TAPE_ARRAYS_PER_STAGE = 2
TAPE_BYTES_PER_STAGE = 7000


def estimated_backprop_bytes(z0, n_intervals, n_steps):
    """Memory backprop needs to record the forward pass: stages × (2 z-sized arrays + bookkeeping)."""
    stages = RK4_STAGES * n_steps * n_intervals
    return stages * (TAPE_ARRAYS_PER_STAGE * 8 * int(np.size(getval(z0))) + TAPE_BYTES_PER_STAGE)


def check_backprop_memory(z0, n_intervals, n_steps, limit=None):
    """ValueError naming n_steps if backprop would record more than `limit` bytes (estimated)."""
    limit = BACKPROP_MEMORY_LIMIT if limit is None else limit
    need = estimated_backprop_bytes(z0, n_intervals, n_steps)
    if need > limit:
        raise ValueError(f"n_steps={n_steps} is too many for backprop: recording {n_intervals} interval(s) "
                         f"of {n_steps} RK4 steps would need about {need / 2**30:.3g} GiB of memory, above "
                         f"the limit of {limit / 2**30:.3g} GiB (adjoint_ref.memory.BACKPROP_MEMORY_LIMIT). "
                         "Use the adjoint, whose memory does not grow with n_steps, or fewer steps.")
