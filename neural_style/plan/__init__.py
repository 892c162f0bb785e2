"""Planning, before any work: the images' sizes (sizes.py), the coarse-to-fine scales and their budgets (scales.py),
the memory a size needs on each kind of device and whether it is tiled (memory.py), and the `RunPlan` of a run
(run_plan.py), which stills, video frames and batch jobs are all planned by."""
