"""How far apart two gradients are: the one measure every check, table and figure uses."""
import numpy as np

from .tree import ravel_tree


def relative_difference(a, b, floor=0.0):
    """‖a − b‖ / max(‖a‖, ‖b‖, floor): 0 for identical vectors, scale-free otherwise (0 if all are 0).

    a and b may be arrays or parameter containers of the same structure. `floor` is a scale below
    which differences count as absolute (for values that may be ~0).
    """
    a, b = ravel_tree(a), ravel_tree(b)
    scale = max(np.linalg.norm(a), np.linalg.norm(b), floor)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0
