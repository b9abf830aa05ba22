"""Exercise 7 with a common mistake: the continuous adjoint of exercise 4 instead of the discrete one."""
from adjoint_ref.exercises.solutions.ex4_backward_pass import backward_pass
from adjoint_ref.rk4 import solve_interval


def discrete_adjoint(f, z0, theta, t0, t1, dL_dz1, n_steps):
    z1 = solve_interval(f, z0, theta, t0, t1, n_steps)
    return backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps)
