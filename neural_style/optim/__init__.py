"""Optimisers (L-BFGS-B, Adam), the coarse-to-fine schedule and the memory plan."""
