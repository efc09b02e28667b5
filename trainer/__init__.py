"""nietzsche-train: the Keras trainer for the DLwP §8.1 character LSTM."""
