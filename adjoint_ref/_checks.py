"""Input validation and the few container helpers every gradient method shares.

Parameters θ may be any container autograd can flatten: an array, a scalar, or nested
lists/tuples/dicts of those. The helpers below walk such a container in autograd's order
(dict keys sorted), so a flat vector and its container always line up.
"""
import numbers

import numpy as np
from autograd.extend import defvjp, primitive
from autograd.tracer import getval, isbox

GRADIENT_METHODS = ("adjoint", "backprop")


def leaves(tree):
    """The arrays of a parameter container, in autograd's flattening order."""
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in leaves(tree[key])]
    return [tree]


def ravel_tree(tree):
    """Concatenate every leaf of `tree` into one float64 vector (plain NumPy, no tracing)."""
    parts = [np.ravel(leaf) for leaf in leaves(tree)]
    return np.concatenate(parts) if parts else np.zeros(0)


def unravel_like(flat, tree):
    """Inverse of `ravel_tree`: cut `flat` into arrays shaped like the leaves of `tree`."""
    pieces = iter(_split(flat, [np.shape(leaf) for leaf in leaves(tree)]))
    return _rebuild(tree, pieces)


def _split(flat, shapes):
    sizes = [int(np.prod(shape)) for shape in shapes]
    offsets = np.cumsum([0] + sizes)
    return [np.reshape(flat[a:b], shape) for a, b, shape in zip(offsets[:-1], offsets[1:], shapes)]


def _rebuild(tree, pieces):
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(item, pieces) for item in tree)
    if isinstance(tree, dict):
        rebuilt = {key: _rebuild(tree[key], pieces) for key in sorted(tree)}
        return {key: rebuilt[key] for key in tree}
    return next(pieces)


def as_float_array(x, name):
    """`x` as a finite float64 array; an autograd box is checked and passed through untouched.

    Booleans, integers and floats of any precision are converted; strings (even "1.5"), complex
    numbers, None and other objects are a TypeError rather than a silent conversion.
    """
    if isbox(x):
        _require_finite(getval(x), name)
        return x
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nesting such as [[1.0], [2.0, 3.0]]
        raise TypeError(f"{name} must be convertible to a float64 array ({err})") from None
    _require_real(arr, name)
    arr = arr.astype(np.float64, copy=False)
    _require_finite(arr, name)
    return arr


def _require_real(arr, name):
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {arr.dtype}")


def _require_finite(arr, name):
    arr = np.asarray(arr)
    _require_real(arr, name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {np.sum(~np.isfinite(arr))} non-finite entries")


def as_float_tree(theta, name="theta"):
    """θ with every leaf converted to a finite float64 array; containers keep their type."""
    if isbox(theta):
        for i, leaf in enumerate(leaves(getval(theta))):
            _require_finite(leaf, f"{name} (leaf {i})")
        return theta
    if hasattr(theta, "_fields"):
        raise TypeError(f"{name} must not be a namedtuple ({type(theta).__name__}): autograd cannot "
                        "flatten it; pass a tuple, list or dict")
    if isinstance(theta, (list, tuple)):
        return type(theta)(as_float_tree(item, f"{name}[{i}]") for i, item in enumerate(theta))
    if isinstance(theta, dict):
        return {key: as_float_tree(value, f"{name}[{key!r}]") for key, value in theta.items()}
    if theta is None or not (isinstance(theta, (numbers.Number, np.ndarray, np.generic)) or isbox(theta)):
        raise TypeError(f"{name} must be an array, a number, or a list/tuple/dict of those; "
                        f"got {type(theta).__name__}")
    return as_float_array(theta, name)


def as_times(ts):
    """Observation times: a 1-D float64 array of at least two strictly monotone, finite values."""
    arr = as_float_array(ts, "ts")
    values = np.asarray(getval(arr))
    if values.ndim != 1:
        raise ValueError(f"ts must be 1-D, got shape {values.shape}")
    if values.size < 2:
        raise ValueError(f"ts must hold at least two observation times, got {values.size}")
    steps = np.diff(values)
    if not (np.all(steps > 0) or np.all(steps < 0)):
        raise ValueError("ts must be strictly increasing or strictly decreasing, got "
                         f"{np.array2string(values, precision=6)}")
    return arr


def as_n_steps(n_steps):
    """The number of RK4 steps per observation interval: a positive integer."""
    return positive_int(n_steps, "n_steps")


def as_checkpoints(checkpoints):
    """None (the adjoint integrates z backwards) or the positive number of checkpoints per interval."""
    return None if checkpoints is None else positive_int(checkpoints, "checkpoints")


def positive_int(value, name):
    """`value` as an int if it is a positive integer (not a bool), else an error naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def choice(value, allowed, name):
    """`value` if it is one of `allowed`, else a ValueError listing the options."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def check_loss_value(value):
    """Insist that the loss returned one finite real number: a scalar, or an array of any shape
    holding exactly one element, e.g. (1,) (the rule autograd.grad applies)."""
    if not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(f"loss must return a real number, got {type(value).__name__}")
    _require_real(np.asarray(value), "the value returned by loss")
    if np.size(value) != 1:
        raise ValueError(f"loss must return a scalar, got an array of shape {np.shape(value)}")
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(f"loss returned {value}")


def check_dynamics(f, z0, theta, t0):
    """Call f once at (z0, θ, t0) and insist that it returns finite float64 dz/dt with the shape of z
    and leaves its arguments as they were (f gets copies, so the caller's arrays are safe)."""
    if not callable(f):
        raise TypeError(f"f must be callable as f(z, theta, t), got {type(f).__name__}")
    z0, theta, t0 = getval(z0), _values(theta), float(getval(t0))
    z_arg, theta_arg = np.array(z0), unravel_like(ravel_tree(theta), theta)
    try:
        dz = f(z_arg, theta_arg, t0)
    except Exception as err:
        add_note(err, f"raised by f(z0, theta, t) at t={t0:.6g}, the call adjoint_ref makes to check f")
        raise
    if not isinstance(dz, (np.ndarray, np.generic, numbers.Number)):
        raise TypeError(f"f must return an array (write it with autograd.numpy), got {type(dz).__name__}")
    if not (np.array_equal(z_arg, z0) and np.array_equal(ravel_tree(theta_arg), ravel_tree(theta))):
        raise ValueError("f modified its argument z or theta in place; f(z, theta, t) must leave its "
                         "arguments unchanged and return dz/dt as a new array")
    if np.shape(dz) != np.shape(z0):
        raise ValueError(f"f returned shape {np.shape(dz)} but z0 has shape {np.shape(z0)}; "
                         "f(z, theta, t) must return dz/dt with the shape of z")
    if np.asarray(dz).dtype != np.float64:
        raise TypeError(f"f returned dtype {np.asarray(dz).dtype}; it must compute dz/dt in float64 "
                        "like the state z (a narrower or complex result would spoil every gradient)")
    check_finite_state(dz, t0, "forward", "f(z0, theta, t0)")


def _values(theta):
    if isinstance(theta, (list, tuple)):
        return type(theta)(_values(item) for item in theta)
    if isinstance(theta, dict):
        return {key: _values(value) for key, value in theta.items()}
    return getval(theta)


def add_note(err, text):
    """Attach `text` to the exception `err` as a note (`BaseException.add_note` of Python ≥ 3.11,
    which prints it under the traceback; older versions keep it in `err.__notes__` only)."""
    err.__notes__ = [*getattr(err, "__notes__", []), text]


def check_finite_state(z, t, which, what="the state"):
    """Raise FloatingPointError if `what` (by default the state) is non-finite at time t of the `which` pass."""
    if not np.all(np.isfinite(getval(z))):
        raise FloatingPointError(f"{what} became non-finite at t={float(getval(t)):.6g} "
                                 f"during the {which} pass")


@primitive
def finite_state(z, t, which):
    """z itself, once checked to be finite at time t of the `which` pass. When autograd
    differentiates through it (backprop), the gradient dL/dz(t) flowing back is checked too, so
    a NaN or overflow in backprop's backward pass is reported with its time."""
    check_finite_state(z, t, which)
    return z


def _finite_state_vjp(ans, z, t, which):
    def vjp(g):
        check_finite_state(g, t, "backward", "the gradient dL/dz")
        return g
    return vjp


defvjp(finite_state, _finite_state_vjp)


def check_finite_gradients(method, **grads):
    """Raise FloatingPointError if any gradient dL/d<name> returned by `method` is non-finite."""
    for name, grad in grads.items():
        if not np.all(np.isfinite(ravel_tree(grad))):
            raise FloatingPointError(f"dL/d{name} became non-finite during the backward pass ({method})")


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


def check_backprop_memory(z0, n_intervals, n_steps, limit):
    """ValueError naming n_steps if backprop would record more than `limit` bytes (estimated)."""
    need = estimated_backprop_bytes(z0, n_intervals, n_steps)
    if need > limit:
        raise ValueError(f"n_steps={n_steps} is too many for backprop: recording {n_intervals} interval(s) "
                         f"of {n_steps} RK4 steps would need about {need / 2**30:.3g} GiB of memory, above "
                         f"the limit of {limit / 2**30:.3g} GiB (adjoint_ref.api.BACKPROP_MEMORY_LIMIT). "
                         "Use the adjoint, whose memory does not grow with n_steps, or fewer steps.")


def is_traced(*args):
    """True if autograd is differentiating with respect to any of `args` (containers are searched)."""
    return any(isbox(leaf) for arg in args for leaf in leaves(arg))
