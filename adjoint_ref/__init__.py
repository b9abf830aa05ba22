"""adjoint_ref: a pure-NumPy reference implementation of the adjoint method for Neural ODEs.

    import adjoint_ref as ar
    zs = ar.odeint(f, z0, theta, ts, n_steps=20, gradient="adjoint")     # n_steps per observation interval
    g = ar.gradients(loss, f, z0, theta, ts, n_steps=20, method="adjoint")
    g.loss, g.z0, g.theta, g.ts
    print(ar.check(loss, f, z0, theta, ts, n_steps=20))                  # every method, compared
    tr = ar.adjoint_trajectory(loss, f, z0, theta, ts, n_steps=20)       # the backward pass, step by step
"""
from ._impl.drift import AdjointDriftWarning
from .api import DenseGridWarning, Gradients, gradients, odeint
from .diagnostics.check import check
from .problems.problem import Problem
from .trajectory import adjoint_trajectory

__all__ = ["AdjointDriftWarning", "DenseGridWarning", "Gradients", "Problem", "adjoint_trajectory", "check", "gradients", "odeint"]
__version__ = "0.3.0"  # the one place the version is written: setup.cfg, CITATION.cff and --version read it
