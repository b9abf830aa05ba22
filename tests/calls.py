"""odeint and gradients called on one small valid problem, with some of its arguments changed.

The error tests change one argument at a time and check the message; other tests reuse the calls.
"""
import autograd.numpy as anp
import numpy as np

import adjoint_ref as ar


def f_linear(z, theta, t):
    """dz/dt = θ z."""
    return theta * z


def loss_sum(zs):
    """L = Σ zs², over every observation time."""
    return anp.sum(zs ** 2)


VALID = dict(loss=loss_sum, f=f_linear, z0=np.ones(2), theta=0.5, ts=[0.0, 1.0], n_steps=4)


def call_gradients(**changes):
    """ar.gradients on VALID with `changes` applied."""
    return ar.gradients(**{**VALID, **changes})


def call_odeint(**changes):
    """ar.odeint on VALID (without its loss) with `changes` applied."""
    kwargs = {**VALID, **changes}
    kwargs.pop("loss")
    return ar.odeint(**kwargs)
