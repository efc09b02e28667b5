"""The chat's widgets: the chat view, an exchange's columns, the prompt line, the status line."""
