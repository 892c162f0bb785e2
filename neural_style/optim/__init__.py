"""The optimisers a run can use (scipy's L-BFGS-B, the L-BFGS kept on the device, Adam), what drives them (the evaluator,
convergence) and which one a run uses (optimizers.py). The coarse-to-fine schedule and the memory plan are plan/'s."""
