"""Features: Keras's VGG19 on Gatys' normalised (or ImageNet) weights, its input convention, cut after the
deepest layer the objective reads."""
