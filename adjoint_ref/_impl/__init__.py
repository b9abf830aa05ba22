"""Plumbing below the reading path: argument checks, θ's flattening, the stage (f traced once, then replayed),
drift checks, checkpoints, memory guards, comparisons and file writes. A student reading the method can skip this
folder."""
