"""Independent references for the tests: a matrix exponential, RK4's known error size, and the
relative error the tests measure with.

Nothing here calls adjoint_ref, so the tests compare the package against outside arithmetic.
"""
import numpy as np
from autograd.misc import flatten


def expm(M):
    """e^M by scaling and squaring of a 30-term Taylor series (accurate to ~1e-15 for ‖M‖ ≲ 10)."""
    s = max(0, int(np.ceil(np.log2(max(np.linalg.norm(M, 1), 1e-300)))) + 1)
    A = M / 2.0 ** s
    term, total = np.eye(len(M)), np.eye(len(M))
    for k in range(1, 30):
        term = term @ A / k
        total = total + term
    for _ in range(s):
        total = total @ total
    return total


def expm_derivative(A, E, span):
    """d/dε e^{(A + εE)·span} at ε = 0, as the upper-right block of Van Loan's block exponential."""
    n = len(A)
    block = np.block([[A, E], [np.zeros((n, n)), A]]) * span
    return expm(block)[:n, n:]


def rk4_error_bound(rate, span, h):
    """A generous bound on RK4's relative global error for dz/dt with Lipschitz rate `rate`.

    One RK4 step errs by about (rate·h)^5 / 120; over span/h steps that accumulates to
    rate·span·(rate·h)^4 / 120. The factor 10 leaves room for the constants in front.
    """
    return 10 * rate * span * (rate * abs(h)) ** 4 / 120


def relative(a, b):
    """‖a − b‖ / ‖b‖: the relative error of a against the reference b.

    a and b may be numbers, arrays, or nested lists, tuples and dicts of them (like θ); both are
    flattened by autograd (dict entries in sorted key order) before they are compared.
    """
    a, b = flatten(a)[0], flatten(b)[0]
    return np.linalg.norm(a - b) / np.linalg.norm(b)
