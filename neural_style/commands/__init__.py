"""The command line: the dispatcher (cli.py), each subcommand, and what only commands need (common.py).
Nothing in the library imports this package."""
