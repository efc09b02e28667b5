"""Is it quoting? Spans of generated text found verbatim in the training text."""
