"""nietzsche-tui: a chat TUI over the DLwP §8.1 character LSTM."""

__version__ = "0.1.0"
