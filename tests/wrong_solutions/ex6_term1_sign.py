"""Exercise 6 with a common mistake: term 1 as [λ(t1) − ∂L/∂z(t1)] dz(t1)/dθ."""
from adjoint_ref.exercises.solutions.ex6_eq10_terms import eq10_terms as right_terms


def eq10_terms(f, z0, theta, t0, t1, dL_dz1, lam, dlam_dt, n_steps):
    term1, term2, term3 = right_terms(f, z0, theta, t0, t1, dL_dz1, lam, dlam_dt, n_steps)
    return -term1, term2, term3
