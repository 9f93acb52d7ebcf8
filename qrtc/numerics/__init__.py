"""Shared numerics that build no IR: sparse polynomial algebra, the maps' tensors applied, the
Carleman lift, the block system's assembly and implicit rows and columns, window norms and the
propagator bound, conditioning ($\\kappa_{\\rm eff}$), the one forward recurrence, the select
matrix."""
