"""Shared numerics that build no IR: sparse polynomial algebra, window norms and the propagator
bound, conditioning ($\\kappa_{\\rm eff}$), the one forward recurrence, the select matrix."""
