"""Parameter containers (θ): flatten to one float64 vector and rebuild, in autograd's order.

θ may be any container autograd can flatten: an array, a scalar, or nested lists/tuples/dicts of
those. The walk below visits dict keys sorted, as autograd does, so a flat vector and its
container always line up. `gradients` hands θ to the gradient method in its container (f reads it
that way); every method returns dL/dθ as one flat vector, which `gradients` rebuilds into θ's
container once (`unravel_like`). Inside the methods θ is flattened only where a flat form is needed:
by finite differences, to perturb its entries, and by `fast_vjp.vjp_of`, once per function it builds
(see there), never once per stage.
"""
import numpy as np
from autograd.tracer import getval


def leaves(tree):
    """The arrays of a parameter container, in autograd's flattening order."""
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in leaves(tree[key])]
    return [tree]


def leaf_paths(tree, name="theta"):
    """How each leaf is reached, as Python source (`theta['W1']`, `theta[1][0]`), in `leaves` order."""
    if isinstance(tree, (list, tuple)):
        return [path for i, item in enumerate(tree) for path in leaf_paths(item, f"{name}[{i}]")]
    if isinstance(tree, dict):
        return [path for key in sorted(tree) for path in leaf_paths(tree[key], f"{name}[{key!r}]")]
    return [name]


def size(tree):
    """The number of scalars in a parameter container (the length of its flat vector)."""
    return sum(int(np.size(leaf)) for leaf in leaves(tree))


def ravel_tree(tree):
    """Concatenate every leaf of `tree` into one float64 vector (plain NumPy, no tracing)."""
    parts = [np.ravel(leaf) for leaf in leaves(tree)]
    return np.concatenate(parts) if parts else np.zeros(0)


def unravel_like(flat, tree):
    """Inverse of `ravel_tree`: cut `flat` into arrays shaped like the leaves of `tree`."""
    shapes = [np.shape(leaf) for leaf in leaves(tree)]
    offsets = np.cumsum([0] + [int(np.prod(shape)) for shape in shapes])
    pieces = iter(np.reshape(flat[a:b], shape) for a, b, shape in zip(offsets[:-1], offsets[1:], shapes))
    return _rebuild(tree, pieces)


def with_leaves(tree, new_leaves):
    """`tree`'s containers holding `new_leaves` (in `leaves` order) instead of its own leaves."""
    return _rebuild(tree, iter(new_leaves))


def structure(tree):
    """What `tree` looks like without its numbers: container types, dict keys in their order, and the
    type, shape and dtype of every leaf. Two containers with equal structures flatten alike."""
    if isinstance(tree, (list, tuple)):
        return type(tree), tuple(structure(item) for item in tree)
    if isinstance(tree, dict):
        return dict, tuple((key, structure(value)) for key, value in tree.items())
    return type(tree), np.shape(tree), getattr(tree, "dtype", None)


def _rebuild(tree, pieces):
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(item, pieces) for item in tree)
    if isinstance(tree, dict):
        rebuilt = {key: _rebuild(tree[key], pieces) for key in sorted(tree)}
        return {key: rebuilt[key] for key in tree}
    return next(pieces)


def values(tree):
    """`tree` with every autograd box replaced by the value it carries."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(values(item) for item in tree)
    if isinstance(tree, dict):
        return {key: values(value) for key, value in tree.items()}
    return getval(tree)
