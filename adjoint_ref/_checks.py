"""Input validation and the few container helpers every gradient method shares.

Parameters θ may be any container autograd can flatten: an array, a scalar, or nested
lists/tuples/dicts of those. The helpers below walk such a container in autograd's order
(dict keys sorted), so a flat vector and its container always line up.
"""
import numbers

import numpy as np
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
    """`x` as a finite float64 array; an autograd box is checked and passed through untouched."""
    if isbox(x):
        _require_finite(getval(x), name)
        return x
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be numeric, got {type(x).__name__}")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be convertible to a float64 array ({err})") from None
    _require_finite(arr, name)
    return arr


def _require_finite(arr, name):
    arr = np.asarray(arr)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {np.sum(~np.isfinite(arr))} non-finite entries")


def as_float_tree(theta, name="theta"):
    """θ with every leaf converted to a finite float64 array; containers keep their type."""
    if isbox(theta):
        for i, leaf in enumerate(leaves(getval(theta))):
            _require_finite(leaf, f"{name} (leaf {i})")
        return theta
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


def check_dynamics(f, z0, theta, t0):
    """Call f once at (z0, θ, t0) and insist that it returns dz/dt with the shape of z."""
    if not callable(f):
        raise TypeError(f"f must be callable as f(z, theta, t), got {type(f).__name__}")
    z0, theta = getval(z0), _values(theta)
    dz = f(z0, theta, float(getval(t0)))
    if not isinstance(dz, (np.ndarray, np.generic, numbers.Number)):
        raise TypeError(f"f must return an array (write it with autograd.numpy), got {type(dz).__name__}")
    if np.shape(dz) != np.shape(z0):
        raise ValueError(f"f returned shape {np.shape(dz)} but z0 has shape {np.shape(z0)}; "
                         "f(z, theta, t) must return dz/dt with the shape of z")


def _values(theta):
    if isinstance(theta, (list, tuple)):
        return type(theta)(_values(item) for item in theta)
    if isinstance(theta, dict):
        return {key: _values(value) for key, value in theta.items()}
    return getval(theta)


def check_finite_state(z, t, which):
    """Raise FloatingPointError if the state of the `which` pass became non-finite at time t."""
    if not np.all(np.isfinite(getval(z))):
        raise FloatingPointError(f"the state became non-finite at t={float(getval(t)):.6g} "
                                 f"during the {which} pass")
