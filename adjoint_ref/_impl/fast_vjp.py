"""One optimisation, in one place: f and its vector–Jacobian products, traced once and then replayed.

Every backward pass (the continuous adjoint, the discrete adjoint, forward sensitivities) needs, at
each Runge–Kutta stage, f(z, θ, t) and the three products λ ∂f/∂z, λ ∂f/∂θ, λ ∂f/∂t. `vjp_of(f)`
gives them from one evaluation of f and one reverse sweep:

    dz_dt, pullback = vjp_of(f)(z, theta, t)
    lam_fz, lam_ftheta, lam_ft = pullback(lam)     # shaped like z, flat like θ, a float

How. autograd traces f once per shape of z, t and θ (the tapes are kept per f, as long as f lives),
and the trace is kept as a tape: the autograd primitives f called, in order, each with the entries its
arguments came from and its constant arguments. θ's leaves are inputs of their own (f reading θ['W1']
costs nothing); for an f that hands θ whole to a primitive (the built-in MLP), θ is one input. Every
later stage replays the tape with plain NumPy (the primitives' own functions on the new z, θ, t: no
boxes, no graph), calls each primitive's registered VJP maker on the new values as autograd's node
would, and sweeps back in autograd's order: the numbers are those of a fresh trace, operation by
operation.

When is a replay what tracing f now would give? Python code sees an autograd box only through its shape
(`len`, `.shape`) and its truth value (`if`, `max`, `and`), so a replay is used only if every entry of
the tape has the shape it had and every truth value f asked for comes out the same (the recording notes
them; comparisons are recorded for that, never differentiated). Comparisons inside the tape (np.where's
mask, abs, maximum) are simply replayed. What f reads from elsewhere (a closure's constants, a global) is
checked by calling f itself at every stage (a few µs): a relative difference above 1e-14 from the replay
makes f be traced again. That call cannot see a change that leaves f's value at this stage unchanged but
not its derivative (say a captured constant multiplying a term that is zero here), nor a value f reads
out of a box by hand (`box._value`). An f whose tape cannot be replayed (in-place accumulation, as a
gradient computed inside f does; a box hidden in a constant argument) and every call on autograd boxes
are traced at every stage, as before.

The traced path: autograd traces f with respect to one flat vector x = [z, θ, t], and f reads its three
arguments through `_tap` (forwards the identity on the value it was given; backwards it drops the
cotangent of that value, flattened, into its slice of x), so λ ∂f/∂θ comes out flat.
"""
import weakref
from collections import namedtuple
from contextlib import contextmanager

import autograd.builtins  # noqa: F401 (boxes for dicts, lists and tuples: θ traced whole)
import numpy as np
from autograd.core import VSpace, add_outgrads, make_vjp, primitive_vjps, sparse_add
from autograd.extend import Box, VJPNode, defvjp, primitive
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import Node, isbox, new_box, notrace_primitives, trace_stack
from autograd.util import toposort

from . import tree
from .tree import ravel_tree

TOLERANCE = 1e-14  # the largest relative difference between a replay's f and f itself
MAX_MISSES = 3  # after this many replays in a row that fail their check, f is traced at every stage
REPLAY = True  # False traces f at every stage: the exercise graders count every evaluation of f
IN_PLACE = (VSpace.mut_add, sparse_add)  # they change an argument: replayed, they would change a constant


@primitive
def _tap(x, start, stop, value):
    """`value`, read as the slice x[start:stop] it was flattened into."""
    return value


def _tap_vjp(ans, x, start, stop, value):
    def vjp(g):
        g_x = np.zeros(x.size)
        g_x[start:stop] = ravel_tree(g)
        return g_x
    return vjp


defvjp(_tap, _tap_vjp)


def traced(f, z, theta, t, flat_theta=None):
    """(f(z, θ, t), pullback) from one autograd trace of f with respect to x = [z, θ, t] (flat_theta:
    θ flattened, if already known)."""
    flat_theta = ravel_tree(theta) if flat_theta is None else flat_theta
    n, m = np.size(z), flat_theta.size

    def f_of_x(x):
        return f(_tap(x, 0, n, z), _tap(x, n, n + m, theta), _tap(x, n + m, n + m + 1, t))

    vjp, dz_dt = make_vjp(f_of_x, np.concatenate([np.ravel(z), flat_theta, [t]]))
    return dz_dt, _split(vjp, np.shape(z), n, m)


def _split(vjp, z_shape, n, m):
    """The pullback λ ↦ (λ ∂f/∂z shaped like z, λ ∂f/∂θ flat, λ ∂f/∂t) from vjp: λ ↦ λ ∂f/∂[z, θ, t]."""
    def pullback(lam):
        g = vjp(lam)
        return g[:n].reshape(z_shape), g[n:n + m], g[-1]
    return pullback


class _Entry(Node):
    """One value of a recording trace: an input (fun None) or the output of a primitive, appended in
    order to the list shared by the whole trace."""
    __slots__ = ["index", "fun", "args", "kwargs", "argnums", "parents", "value", "entries"]

    def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
        self.fun, self.args, self.kwargs, self.argnums, self.parents = fun, args, kwargs, parent_argnums, parents
        self._append(parents[0].entries, value)

    def initialize_root(self, entries, value):
        self.fun, self.parents = None, ()
        self._append(entries, value)

    def _append(self, entries, value):
        self.entries, self.index, self.value = entries, len(entries), value
        entries.append(self)


# What comparisons, index and size functions return for scalars: autograd boxes none of them, as it never
# traces them; a recording boxes them too, so that their outcomes are recorded (never differentiated).
DECISION_TYPES = (bool, int, np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                  np.uint64)


@contextmanager
def _decisions_noted(trace_id, tested):
    """While inside, every box of trace `trace_id` asked for its truth value is appended to `tested`, and
    NumPy's boolean and integer scalars are boxed like arrays.

    (autograd's Box.__bool__ and its table of boxed types are changed for one recording and restored.)"""
    plain, added = Box.__bool__, [t for t in DECISION_TYPES if t not in Box.type_mappings]

    def noted(box):
        if box._trace == trace_id:
            tested.append(box._node)
        return plain(box)

    Box.__bool__ = noted
    Box.type_mappings.update(dict.fromkeys(added, ArrayBox))
    try:
        yield
    finally:
        Box.__bool__ = plain
        for value_type in added:
            del Box.type_mappings[value_type]


def _record(f, inputs, whole_theta, theta):
    """Trace f on inputs = [z, θ, t] (whole_theta) or [z, θ's leaves..., t]: (the entries in order, the
    output's entry, the entries whose truth value f asked for), or None if f's output is not traced."""
    entries, tested = [], []
    with trace_stack.new_trace() as trace_id:
        boxes = [new_box(value, trace_id, _Entry.new_root(entries, value)) for value in inputs]
        boxed_theta = boxes[1] if whole_theta else tree.with_leaves(theta, boxes[1:-1])
        with _decisions_noted(trace_id, tested):
            out = f(boxes[0], boxed_theta, boxes[-1])
    if not (type(out) is ArrayBox and out._trace == trace_id):
        return None
    return entries, out._node, tested


Step = namedtuple("Step", ["raw", "fun", "args", "kwargs", "slots", "vjp_argnums"])
Step.__doc__ = """One primitive call of the tape: raw (its NumPy function), fun (autograd's primitive, the key
of its VJP maker), args with the constants in place, kwargs, slots ((argument position, entry), ...) the
arguments taken from earlier entries, vjp_argnums the positions autograd would differentiate (none
for a comparison and everything computed from comparisons and constants only)."""

Tape = namedtuple("Tape", ["whole_theta", "n_inputs", "steps", "out", "order", "parents", "shapes", "truths"])
Tape.__doc__ = """f as recorded: whole_theta, whether θ is one input or each leaf is; the steps after the
n_inputs inputs; out, the entry f returns; order, the entries of the reverse sweep in autograd's order;
parents[i], the entries receiving entry i's cotangents; shapes, the list of every entry's shape (None for a
float or a container); truths ((entry, its truth value), ...) for every truth test f made."""


def _differentiable(entry, flags):
    """Whether autograd would trace this entry: an input, or a differentiable primitive with a traced argument."""
    if entry.fun is None:
        return True
    return entry.fun not in notrace_primitives[VJPNode] and any(flags[p.index] for p in entry.parents)


def _holds_box(value):
    """Whether a constant argument carries an autograd box (of any trace), also inside containers."""
    if isinstance(value, (list, tuple)):
        return any(map(_holds_box, value))
    if isinstance(value, dict):
        return any(map(_holds_box, value.values()))
    return isbox(value)


def _step(entry, flags):
    """The Step replaying `entry`, or None if it cannot be replayed."""
    is_traced = flags[entry.index]
    vjp_argnums = tuple(a for a, p in zip(entry.argnums, entry.parents) if flags[p.index]) if is_traced else ()
    constants = [arg for a, arg in enumerate(entry.args) if a not in entry.argnums] + list(entry.kwargs.values())
    if is_traced and (type(entry.value) in DECISION_TYPES or entry.fun not in primitive_vjps):
        return None  # autograd could not trace it (it boxes no such value, or has no VJP for it)
    if entry.fun in IN_PLACE or _holds_box(constants):
        return None
    slots = tuple((a, p.index) for a, p in zip(entry.argnums, entry.parents))
    args = tuple(None if a in entry.argnums else arg for a, arg in enumerate(entry.args))  # keep constants only
    return Step(entry.fun.fun, entry.fun, args, entry.kwargs, slots, vjp_argnums)


def _shape(value):
    """An array's shape; None for a float or a container."""
    return getattr(value, "shape", None)


def _tape(recording, whole_theta, n_inputs):
    """The Tape of a recording (entries, output entry, truth-tested entries), or None if one of its
    steps cannot be replayed."""
    entries, out, tested = recording
    flags = []
    for entry in entries:
        flags.append(_differentiable(entry, flags))
    steps = [_step(entry, flags) for entry in entries[n_inputs:]]
    if None in steps or not flags[out.index]:
        return None
    traced_parents = [[p for p in entry.parents if flags[p.index]] for entry in entries]
    order = tuple(e.index for e in toposort(out, lambda e: traced_parents[e.index]))
    return Tape(whole_theta, n_inputs, tuple(steps), out.index, order,
                tuple(tuple(p.index for p in ps) for ps in traced_parents),
                [_shape(e.value) for e in entries], tuple((e.index, bool(e.value)) for e in tested))


def _new_tape(f, z, theta, leaves, t, modes=(False, True)):
    """The Tape of f at (z, θ, t), or None if f cannot be recorded or its tape cannot be replayed.

    modes: whether θ is one input, in the order tried. First with each leaf of θ an input; if f fails
    that way or its tape cannot be replayed (a primitive taking θ whole sees a dict of boxes as a
    constant), with θ one input, as the traced path has it."""
    for whole_theta in modes:
        inputs = _inputs(whole_theta, z, theta, leaves, t)
        try:
            recording = _record(f, inputs, whole_theta, theta)
        except Exception:  # e.g. a leaf autograd cannot box; if f fails both ways, the traced path says why
            continue
        tape = None if recording is None else _tape(recording, whole_theta, len(inputs))
        if tape is not None:
            return tape
    return None


def _inputs(whole_theta, z, theta, leaves, t):
    """What a tape reads: [z, θ, t] or [z, θ's leaves..., t]."""
    return [z, theta, t] if whole_theta else [z, *leaves, t]


def replay(tape, inputs):
    """(every entry's value, {entry: its VJP}) for new inputs: the tape's primitives evaluated with
    plain NumPy, each followed by its VJP maker as an autograd node would call it."""
    values, vjps = list(inputs), {}
    for step in tape.steps:
        args = list(step.args)
        for position, entry in step.slots:
            args[position] = values[entry]
        values.append(step.raw(*args, **step.kwargs))
        if step.vjp_argnums:
            vjps[len(values) - 1] = primitive_vjps[step.fun](step.vjp_argnums, values[-1], tuple(args), step.kwargs)
    return values, vjps


def sweep(tape, vjps, lam):
    """{input: its cotangent} for the cotangent lam of f's output: autograd's reverse sweep over the tape."""
    outgrads, grads = {tape.out: (lam, False)}, {}
    for entry in tape.order:
        g = outgrads.pop(entry)[0]
        if entry < tape.n_inputs:
            grads[entry] = g
            continue
        for parent, ingrad in zip(tape.parents[entry], vjps[entry](g)):
            outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
    return grads


def _pullback(tape, vjps, inputs, m):
    """The pullback λ ↦ (λ ∂f/∂z, λ ∂f/∂θ flat (m numbers), λ ∂f/∂t) of a replay on `inputs`."""
    def vjp(lam):
        grads = sweep(tape, vjps, lam)
        if tape.whole_theta:  # one cotangent shaped like θ, or none
            return np.concatenate([_flat(grads.get(0), np.size(inputs[0])),
                                   ravel_tree(grads[1]) if 1 in grads else np.zeros(m), _flat(grads.get(2), 1)])
        return np.concatenate([_flat(grads.get(i), np.size(value)) for i, value in enumerate(inputs)])
    return _split(vjp, np.shape(inputs[0]), np.size(inputs[0]), m)


def _flat(g, size):
    """A cotangent as a flat vector: zeros of `size` if nothing reached its input."""
    return np.zeros(size) if g is None else np.ravel(g)


def still_f(tape, values, f, z, theta, t):
    """Whether a replay is what tracing f now would give: every entry has its recorded shape, every truth
    test f made comes out the same, and f itself (called on a copy of z) agrees with the replayed output
    to a relative TOLERANCE."""
    if [getattr(v, "shape", None) for v in values] != tape.shapes:  # `_shape` of each, written out: it is hot
        return False
    if any(bool(values[entry]) != truth for entry, truth in tape.truths):
        return False
    direct, replayed = f(np.array(z), theta, t), values[tape.out]
    if np.shape(direct) != np.shape(replayed):
        return False
    gap = np.abs(np.subtract(direct, replayed)).max()
    return gap == 0 or gap <= TOLERANCE * np.abs(replayed).max()


Theta = namedtuple("Theta", ["leaves", "structure", "flat"])
Theta.__doc__ = "θ's leaves (in `tree.leaves` order), its `tree.structure` and its flat form."


_TAPES = weakref.WeakKeyDictionary()  # f → {(z's shape and dtype, t's type, θ's structure): Tape or None}


def tapes_of(f):
    """The tapes recorded for f so far, kept as long as f lives (None: f is traced at every call)."""
    try:
        return _TAPES.setdefault(f, {})
    except TypeError:  # f cannot be referenced weakly (or hashed): its tapes live with one vjp_of(f)
        return {}


def vjp_of(f):
    """(z, θ, t) ↦ (f(z, θ, t), pullback) with pullback(λ) = (λ ∂f/∂z, λ ∂f/∂θ flat, λ ∂f/∂t).

    f is traced once per shape of z, t and θ and replayed after that (see the module's docstring);
    calls on autograd boxes, an f whose tape cannot be replayed and one whose replays fail their check
    MAX_MISSES times in a row (f is not a function of (z, θ, t) alone) are traced every time. θ's leaves,
    structure and flat form are computed once per θ (θ is fixed during a backward pass), and again
    before f is traced anew."""
    tapes, misses = tapes_of(f), {}  # misses: consecutive replays that failed their check, per key
    last = [None, None]  # [θ, its Theta]

    def parts(theta, fresh=False):
        if fresh or last[0] is not theta:
            last[:] = theta, Theta(tree.leaves(theta), tree.structure(theta), ravel_tree(theta))
        return last[1]

    def f_and_pullback(z, theta, t):
        th = parts(theta)
        if not REPLAY or isbox(z) or isbox(t) or any(map(isbox, th.leaves)):
            return traced(f, z, theta, t)
        key = (np.shape(z), getattr(z, "dtype", None), type(t), th.structure)
        tape = tapes.get(key, False)
        if tape is False:  # f not seen at these shapes yet
            tape = tapes[key] = _new_tape(f, z, theta, th.leaves, t)
        elif tape is not None:
            result = _checked_replay(tape, f, z, theta, th, t)
            misses[key] = 0 if result is not None else misses.get(key, 0) + 1
            if result is not None:
                return result
            th = parts(theta, fresh=True)  # in case θ was changed in place
            key = key[:-1] + (th.structure,)
            tape = tapes[key] = None if misses.get(key, 0) >= MAX_MISSES else \
                _new_tape(f, z, theta, th.leaves, t, (tape.whole_theta,))
        return _replayed(tape, f, z, theta, th, t)

    return f_and_pullback


def _replayed(tape, f, z, theta, th, t):
    """(f(z, θ, t), pullback) replayed from `tape` without checks (it was just recorded at these
    inputs), or traced if there is no tape."""
    if tape is None:
        return traced(f, z, theta, t, th.flat)
    inputs = _inputs(tape.whole_theta, z, theta, th.leaves, t)
    values, vjps = replay(tape, inputs)
    return values[tape.out], _pullback(tape, vjps, inputs, th.flat.size)


def _checked_replay(tape, f, z, theta, th, t):
    """(f(z, θ, t), pullback) replayed from `tape` (th: θ's `Theta`), or None if that is not what tracing
    f now would give (`still_f`)."""
    inputs = _inputs(tape.whole_theta, z, theta, th.leaves, t)
    try:
        values, vjps = replay(tape, inputs)
        if still_f(tape, values, f, z, theta, t):
            return values[tape.out], _pullback(tape, vjps, inputs, th.flat.size)
    except Exception:  # the replay went where f does not go: f is traced again, which says what is wrong
        pass
    return None
