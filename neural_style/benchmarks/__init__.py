"""Measurements, one module each, behind the thin `neural-style benchmark` command (commands/benchmark.py):

    speed.py            seconds per evaluation (graph and XLA, interleaved), GFLOP/s against the machine's peak,
                        start to first iteration and peak memory (the default mode)
    time_to_quality.py  the single-size float32 baseline against the default run and the photo start
    tiled.py            whole against tiled evaluation at high resolution, each in a process of its own
    video.py            flicker and seconds per frame, independent frames against the temporal mode
    batch.py            one batch each way it can run (a process, 2 workers, Ray, two-node Ray)
    style_losses.py     each style loss on each pair, scored by every loss
    starts.py           the photo start against the AdaIN start at equal budget
    studio.py           a plain run against the studio's Paint

Each has `run(args, stop)` and prints its own table; measure.py holds what they share (interleaved timing, the
float32 score of a picture, sheets). Images come from `neural_style.samples`, from a checkout or the wheel alike.
"""
