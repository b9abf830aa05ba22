"""Explicit Runge–Kutta methods as Butcher tableaus, and one step function that serves them all.

A tableau (c, A, b, b̂) defines the step from z at time t to time t + h:

    k_i = f(z + h Σ_{j<i} A[i][j] k_j, θ, t + c_i h),   z_new = z + h Σ_i b_i k_i,

and, when the method has an embedded pair, the local error estimate h Σ_i (b_i − b̂_i) k_i, the
difference between z_new (order p) and the lower-order solution z + h Σ_i b̂_i k_i (order p̂).
This is how scipy's `scipy/integrate/_ivp/rk.py` and diffrax write their solvers. The classical RK4
of `rk4.rk4_step` (kept there in five lines, for reading) is one table; Dormand–Prince 5(4) is another.
"""
from collections import namedtuple

Tableau = namedtuple("Tableau", ["c", "A", "b", "b_hat", "order", "embedded_order"])
Tableau.__doc__ = """An explicit Runge–Kutta method: nodes c, rows A[i] (length i), weights b, the embedded
weights b̂ (None if the method has no error estimate), and the orders of b and b̂."""

RK4 = Tableau(c=(0.0, 1 / 2, 1 / 2, 1.0),
              A=((), (1 / 2,), (0.0, 1 / 2), (0.0, 0.0, 1.0)),
              b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), b_hat=None, order=4, embedded_order=None)

# Dormand & Prince (1980), "A family of embedded Runge–Kutta formulae", J. Comput. Appl. Math. 6(1).
# The last row of A equals b, so the seventh stage is f at the new state: "first same as last" (FSAL),
# it is the first stage of the next step, and a step costs six new evaluations of f.
DOPRI5 = Tableau(
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    A=((),
       (1 / 5,),
       (3 / 40, 9 / 40),
       (44 / 45, -56 / 15, 32 / 9),
       (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
       (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
       (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)),
    b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0),
    b_hat=(5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40),
    order=5, embedded_order=4)


def combine(weights, stages):
    """Σ_j w_j k_j over the nonzero weights (so a zero weight never touches its stage)."""
    return sum(w * k for w, k in zip(weights, stages) if w != 0)


def rk_step(tableau, f, z, theta, t, h, k1=None):
    """One explicit Runge–Kutta step: k_i = f(z + h Σ_j A[i][j] k_j, θ, t + c_i h), z_new = z + h Σ b_i k_i.

    Returns (z_new, error, stages): error = h Σ (b_i − b̂_i) k_i is the embedded local error estimate
    (None without b̂), stages = [k_1, …, k_s]. k1 = f(z, θ, t) may be passed in when it is already
    known (the last stage of the previous step of an FSAL method). Works on autograd boxes.
    """
    stages = [f(z, theta, t) if k1 is None else k1]
    for c_i, a_i in zip(tableau.c[1:], tableau.A[1:]):
        stages.append(f(z + h * combine(a_i, stages), theta, t + c_i * h))
    z_new = z + h * combine(tableau.b, stages)
    if tableau.b_hat is None:
        return z_new, None, stages
    return z_new, h * combine([b - b_hat for b, b_hat in zip(tableau.b, tableau.b_hat)], stages), stages
