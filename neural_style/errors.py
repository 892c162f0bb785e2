"""The one exception type the command line turns into a one-line message and exit status 2."""


class NeuralStyleError(Exception):
    """A problem with the user's input or setup that the user can fix.

    The message names the problem and what to do about it, on one line.
    """
