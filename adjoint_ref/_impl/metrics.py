"""Two sizes, each defined once: the root mean square of an array's entries (`rms`, the adaptive
solver's error norm and finite differences' scale) and how far apart two results are
(`relative_difference`, the one measure every check, table and figure uses)."""
import numpy as np

from .tree import ravel_tree


def rms(x):
    """√(mean of x_i²): the root mean square of the entries of x (0 for no entries)."""
    return float(np.sqrt(np.mean(np.square(x)))) if np.size(x) else 0.0


def relative_difference(a, b, floor=0.0):
    """‖a − b‖ / max(‖a‖, ‖b‖, floor): 0 for identical vectors, scale-free otherwise (0 if all are 0).

    a and b may be arrays or parameter containers of the same structure. `floor` is a scale below
    which differences count as absolute (for values that may be ~0).
    """
    a, b = ravel_tree(a), ravel_tree(b)
    scale = max(np.linalg.norm(a), np.linalg.norm(b), floor)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0
