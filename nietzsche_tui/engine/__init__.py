"""The model's maths without TensorFlow: weights read from the Keras archive, the network in
NumPy, sampling, generation, epochs side by side, and the analyses (scores, alternatives, cells)."""
