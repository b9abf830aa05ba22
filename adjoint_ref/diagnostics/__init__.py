"""Tools that check the method rather than compute it: `check` (every gradient method on one problem),
`equations` (each equation of the derivation evaluated on a problem) and `bench` (time and memory)."""
