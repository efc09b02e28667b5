"""The Textual app: wiring (app.py), its stylesheet, the shared state, widgets and screens."""
