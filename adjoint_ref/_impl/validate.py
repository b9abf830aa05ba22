"""Input validation: every argument a user passes is checked here, with an error that names it.

Numbers become float64 arrays explicitly; anything that is not a real, finite number (a string,
a complex number, NaN) is refused rather than converted. `inputs` validates one call's (f, z0, θ, ts)
together (for `odeint`, `gradients`, `check`, `Problem` and `lagrangian`); options are checked one
by one (`as_n_steps`, `as_checkpoints`, `positive_int`, `positive_number`, `choice`).
"""
import contextlib
import dis
import inspect
import numbers
from collections import namedtuple

import numpy as np
from autograd.tracer import getval, isbox

from .tree import leaves, ravel_tree, unravel_like, values


def as_float_array(x, name):
    """`x` as a finite float64 array of its own (a copy, never the caller's array); an autograd box is
    checked and passed through untouched; a masked array is refused.

    Booleans, integers and floats of any precision are converted; strings (even "1.5"), complex
    numbers, None and other objects are a TypeError rather than a silent conversion.
    """
    if isbox(x):
        _require_finite(getval(x), name)
        return x
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array: its masked entries would be used with whatever values "
                        "they hold; pass np.ma.filled(x, value) or the unmasked entries")
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nesting such as [[1.0], [2.0, 3.0]]
        raise TypeError(f"{name} must be convertible to a float64 array ({err})") from None
    _require_real(arr, name)
    arr = np.array(arr, dtype=np.float64)  # a copy: f writing into it can never reach the caller's array
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
        _require_sortable_keys(theta, name)
        return {key: as_float_tree(value, f"{name}[{key!r}]") for key, value in theta.items()}
    if theta is None or not (isinstance(theta, (numbers.Number, np.ndarray, np.generic)) or isbox(theta)):
        raise TypeError(f"{name} must be an array, a number, or a list/tuple/dict of those; "
                        f"got {type(theta).__name__}")
    return as_float_array(theta, name)


def _require_sortable_keys(theta, name):
    try:
        sorted(theta)
    except TypeError:
        kinds = sorted({type(key).__name__ for key in theta})
        raise TypeError(f"{name} is a dict with keys of types {', '.join(kinds)}, which cannot be sorted "
                        "together; its leaves are flattened in sorted key order (as autograd does), so "
                        "use keys of one type, e.g. all strings") from None


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


def as_n_steps(n_steps, intervals=None):
    """RK4 steps per observation interval: a positive integer (the same on every interval), or, given
    the number of intervals len(ts) − 1, a sequence of that many positive integers (one per interval)."""
    if intervals is None or not isinstance(n_steps, (list, tuple, np.ndarray)):
        return positive_int(n_steps, "n_steps")
    if np.ndim(n_steps) != 1 or len(n_steps) != intervals:
        raise ValueError(f"n_steps must be one positive integer or a flat sequence of {intervals}, one per "
                         f"observation interval (len(ts) − 1); got shape {np.shape(n_steps)}")
    return tuple(positive_int(n, f"n_steps[{i}]") for i, n in enumerate(np.asarray(n_steps, dtype=object)))


def steps_of_size(step_size, ts):
    """(n_1, …, n_N): ⌈|t_i − t_{i−1}| / h⌉ equal RK4 steps on each observation interval, so that every
    observation time is hit exactly and no step is longer than h = step_size. A ratio within 1e-9 (relative)
    of an integer counts as that integer (1.0 / 0.1 is 10 steps, not 11)."""
    h = positive_number(step_size, "step_size")
    ratios = np.abs(np.diff(np.asarray(getval(ts), dtype=float))) / h
    if not np.all(ratios < 1e9):
        raise ValueError(f"step_size={h:g} would take more than 1e9 RK4 steps on an observation interval")
    return tuple(max(1, int(np.ceil(r * (1 - 1e-9)))) for r in ratios)


def as_grid(n_steps, step_size, ts, default):
    """The RK4 steps per interval from either n_steps (an integer, or one per interval) or step_size (a
    step length h: `steps_of_size`), never both; `default` when neither is given. ts: validated times."""
    if step_size is None:
        return as_n_steps(default if n_steps is None else n_steps, len(getval(ts)) - 1)
    if n_steps is not None:
        raise ValueError(f"give n_steps (steps per interval) or step_size (the longest step), not both; got "
                         f"n_steps={n_steps!r} and step_size={step_size!r}")
    return steps_of_size(step_size, ts)


def as_checkpoints(checkpoints):
    """None (the adjoint integrates z backwards), "auto" (checkpoints only if that drifts) or the
    positive number of checkpoints per interval."""
    if checkpoints is None or (isinstance(checkpoints, str) and checkpoints == "auto"):
        return checkpoints
    return positive_int(checkpoints, "checkpoints")


def positive_int(value, name):
    """`value` as an int if it is a positive integer (not a bool), else an error naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def positive_number(value, name):
    """`value` as a float if it is a positive, finite real number, else an error naming `name`.

    The one rule for every tolerance, step size and time limit: a bool, a string or any other
    non-real value is a TypeError; zero, a negative number, NaN or ±inf is a ValueError.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive, finite number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number, got {value}")
    return value


def choice(value, allowed, name):
    """`value` if it is one of `allowed`, else a ValueError listing the options."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


NOT_DIFFERENTIABLE = ("gradients() returns numbers, not a result autograd can trace, so autograd cannot "
                      "differentiate through it. To differentiate a function of the solution, apply autograd "
                      "to odeint, e.g. grad(lambda theta: loss(odeint(f, z0, theta, ts)))(theta); for second "
                      "derivatives use odeint(..., gradient='backprop').")


def not_traced(*args):
    """TypeError if autograd is differentiating with respect to any of `args` (see NOT_DIFFERENTIABLE)."""
    if is_traced(*args):
        raise TypeError(NOT_DIFFERENTIABLE)


def check_loss_value(value):
    """Insist that the loss returned one finite real number: a scalar, or an array of any shape
    holding exactly one element, e.g. (1,) (the rule autograd.grad applies). A traced value means
    autograd is differentiating through `gradients` via something the loss reads: not supported."""
    if isbox(value):
        raise TypeError(NOT_DIFFERENTIABLE)
    if not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(f"loss must return a real number, got {type(value).__name__}")
    _require_real(np.asarray(value), "the value returned by loss")
    if np.size(value) != 1:
        raise ValueError(f"loss must return a scalar, got an array of shape {np.shape(value)}")
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(f"loss returned {value}")


def check_dynamics(f, z0, theta, t0):
    """Call f once at (z0, θ, t0) and insist that it returns finite float64 dz/dt with the shape of z
    and leaves its arguments as they were (f gets copies, so the caller's arrays are safe). Before the
    call, f's parameter names are read: torchdiffeq's order f(t, y, ...) is refused (`check_argument_order`)."""
    if not callable(f):
        raise TypeError(f"f must be callable as f(z, theta, t), got {type(f).__name__}")
    check_argument_order(f)
    z0, theta, t0 = getval(z0), values(theta), float(getval(t0))
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


def snapshot(z0, theta):
    """The numbers of z0 and θ, flat, copied: what `unchanged` compares with after a solve."""
    return np.concatenate([np.ravel(getval(z0)), ravel_tree(values(theta))])


def unchanged(z0, theta, before):
    """ValueError if z0 or θ (the solver's own copies) no longer hold the numbers of `before`: f wrote
    into them during the solve (after its checked first call), so the gradient was computed with
    parameters that changed under it. The caller's arrays are safe either way (they were copied)."""
    if not np.array_equal(snapshot(z0, theta), before):
        raise ValueError("f modified its argument theta (or z0) in place during the solve, after its first "
                         "call; f(z, theta, t) must leave its arguments unchanged and return dz/dt as a new "
                         "array (the gradient computed meanwhile is wrong; your own theta was not touched)")


def check_argument_order(f):
    """A TypeError if f's parameters say time first: its first is named t (or its names begin t, y), as in
    torchdiffeq's f(t, y, p). Here f is called f(z, theta, t), and a time-first f whose parameters have
    z's shape would run and return a wrong answer, so it is refused before anything is solved."""
    try:
        names = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):  # a builtin or a callable without a signature: nothing to read
        return
    if names and names[0] in ("t", "time"):
        raise TypeError(f"f's parameters are ({', '.join(names)}): time first, torchdiffeq's order f(t, y, ...). "
                        "adjoint_ref calls f(z, theta, t): the state first, the parameters, then the time. "
                        f"Reorder them, e.g. def f(z, theta, t), or pass lambda z, theta, t: f(t, z, theta)")


class PlainNumpyError(TypeError):
    """f calls plain numpy on a value autograd traces: f must be written with autograd.numpy."""


def plain_numpy_calls(f):
    """The plain-numpy functions f's code calls, as written ("np.stack", "numpy.dot", "array"): read from
    its bytecode (a global or closure name bound to the numpy module, then an attribute; or a name
    bound to a numpy function), f itself and the functions defined inside it."""
    function = getattr(f, "__func__", f)
    if not hasattr(function, "__code__"):
        function = getattr(getattr(f, "__call__", None), "__func__", None)
    if not hasattr(function, "__code__"):
        return []
    names = dict(function.__globals__)
    cells = zip(function.__code__.co_freevars, function.__closure__ or ())
    names.update({name: cell.cell_contents for name, cell in cells if _filled(cell)})
    codes, found = [function.__code__], []
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if inspect.iscode(c)]
        instructions = list(dis.get_instructions(code))
        for load, attribute in zip(instructions, instructions[1:] + [None]):
            if load.opname not in ("LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME"):
                continue
            value = names.get(load.argval)
            if value is np and attribute is not None and attribute.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                value, label = getattr(np, attribute.argval, None), f"{load.argval}.{attribute.argval}"
            else:
                label = load.argval
            if _is_numpy_function(value) and label not in found:
                found.append(label)
    return found


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return True


def _is_numpy_function(value):
    """A function or ufunc of plain numpy (not a type such as np.float64, not a constant such as np.pi)."""
    return (isinstance(value, np.ufunc) or (callable(value) and not isinstance(value, type) and
                                           getattr(value, "__module__", "") is not None and
                                           (getattr(value, "__module__", "") or "").startswith("numpy")))


@contextlib.contextmanager
def plain_numpy_explained(f):
    """Let a TypeError raised while autograd traces f through, unless f calls plain numpy: then a
    `PlainNumpyError` in one line saying that f must use autograd.numpy and naming the calls. (numpy on
    an autograd box builds an array of objects, which fails far away: "ufunc 'isfinite' not supported".)"""
    try:
        yield
    except TypeError as err:
        calls, text = plain_numpy_calls(f), str(err)
        from_objects = ("ufunc" in text or "dtype('O')" in text) and "Box" not in text  # numpy on boxes
        if not (calls and from_objects) or isinstance(err, PlainNumpyError):
            raise
        raise PlainNumpyError(f"f must be written with autograd.numpy (import autograd.numpy as np), which "
                              f"autograd can differentiate; it calls plain numpy ({', '.join(calls)}), which cannot "
                              f"handle the values autograd traces ({type(err).__name__}: {str(err).splitlines()[0][:80]})") from err


def check_running_loss(g, z0, theta, t0):
    """Call the running cost g once at (z0, θ, t0) and insist that it returns one finite real number."""
    if not callable(g):
        raise TypeError(f"running_loss must be callable as g(z, theta, t), got {type(g).__name__}")
    z0, theta, t0 = getval(z0), values(theta), float(getval(t0))
    try:
        value = g(np.array(z0), unravel_like(ravel_tree(theta), theta), t0)
    except Exception as err:
        add_note(err, f"raised by running_loss(z0, theta, t) at t={t0:.6g}, the call adjoint_ref makes to check it")
        raise
    if not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(f"running_loss must return a real number, got {type(value).__name__}")
    _require_real(np.asarray(value), "the value returned by running_loss")
    if np.size(value) != 1:
        raise ValueError(f"running_loss must return a scalar, got an array of shape {np.shape(value)}")
    check_finite_state(value, t0, "forward", "running_loss(z0, theta, t0)")


def add_note(err, text):
    """Attach `text` to the exception `err` as a note (`BaseException.add_note` of Python ≥ 3.11,
    which prints it under the traceback; older versions keep it in `err.__notes__` only)."""
    err.__notes__ = [*getattr(err, "__notes__", []), text]


def check_finite_state(z, t, which, what="the state"):
    """Raise FloatingPointError if `what` (by default the state) is non-finite at time t of the `which` pass."""
    if not np.all(np.isfinite(getval(z))):
        raise FloatingPointError(f"{what} became non-finite at t={float(getval(t)):.6g} "
                                 f"during the {which} pass")


def check_finite_gradients(method, **grads):
    """Raise FloatingPointError if any gradient dL/d<name> returned by `method` is non-finite."""
    for name, grad in grads.items():
        if not np.all(np.isfinite(grad)):
            raise FloatingPointError(f"dL/d{name} became non-finite during the backward pass ({method})")


def is_traced(*args):
    """True if autograd is differentiating with respect to any of `args` (containers are searched)."""
    return any(isbox(leaf) for arg in args for leaf in leaves(arg))


def inputs(f, z0, theta, ts):
    """(z0, θ, ts) validated together, with f called once at (z0, θ, ts[0]) to check it."""
    z0 = as_float_array(z0, "z0")
    theta = as_float_tree(theta)
    ts = as_times(ts)
    check_dynamics(f, z0, theta, getval(ts)[0])
    return z0, theta, ts


RTOL, ATOL = 1e-7, 1e-9  # dopri5's default tolerances: those of torchdiffeq's odeint

Tolerances = namedtuple("Tolerances", ["rtol", "atol", "adjoint_rtol", "adjoint_atol", "seminorm"])
Tolerances.__doc__ = """The error tolerances of dopri5's forward solve and of the adjoint's backward solve, and
whether the backward error norm leaves out a_θ and a_t (seminorm)."""


def tolerances(method, rtol=None, atol=None, adjoint_rtol=None, adjoint_atol=None, seminorm=False):
    """Validated Tolerances for gradient method `method` with solver="dopri5": rtol, atol default to RTOL,
    ATOL and the adjoint's to the forward ones; adjoint_rtol, adjoint_atol and seminorm apply to the adjoint only."""
    if method != "adjoint":
        for name, value in (("adjoint_rtol", adjoint_rtol), ("adjoint_atol", adjoint_atol), ("seminorm", seminorm)):
            if value is not None and value is not False:
                raise ValueError(f"{name} applies to method='adjoint' only, got method={method!r}")
    rtol = RTOL if rtol is None else positive_number(rtol, "rtol")
    atol = ATOL if atol is None else positive_number(atol, "atol")
    if not isinstance(seminorm, (bool, np.bool_)):
        raise TypeError(f"seminorm must be True or False, got {seminorm!r}")
    return Tolerances(rtol, atol, rtol if adjoint_rtol is None else positive_number(adjoint_rtol, "adjoint_rtol"),
                      atol if adjoint_atol is None else positive_number(adjoint_atol, "adjoint_atol"), bool(seminorm))
