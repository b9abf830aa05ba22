"""Plumbing below the reading path: argument checks, θ's flattening, the one-make_vjp stage, drift checks,
checkpoints, memory guards, comparisons and file writes. A student reading the method can skip this folder."""
