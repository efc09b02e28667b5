"""The command lines: ``nietzsche-tui`` and its subcommands (main.py), and the toolkit they share
with the trainer's (common.py)."""
