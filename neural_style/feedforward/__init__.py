"""Feed-forward painters: a picture in one pass of a trained network (AdaIN), alone or as an optimisation's start."""
