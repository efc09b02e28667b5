"""The app's screens: chat, training (F5) and its dialogs, history (F6), inspect and cells, help."""
