"""Exercise 8 answered with the package's continuous adjoint, jumps included (a shortcut the grader refuses)."""
from adjoint_ref import gradients  # noqa: F401  (the same refusal, under the package's top-level name)
from adjoint_ref.adjoint import adjoint_gradients


def adjoint_with_observations(f, zs, theta, ts, dL_dzs, n_steps):
    dL_dz0, dL_dtheta, _ = adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs)
    return dL_dz0, dL_dtheta.reshape(theta.shape)
