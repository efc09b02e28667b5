"""``nietzsche-tui serve``: the app in a web browser, one app process per tab, behind a boundary.

Built on textual-serve (its page, its terminal in the browser, its protocol to the app), with
what a server that other people open needs and textual-serve leaves out. Three modules:

* ``boundary.py``: what a request must satisfy (its Host, its Origin, the token, sizes, rates);
  pure functions, tested on their own.
* ``sessions.py``: the aiohttp server and one app process per tab, limited and never orphaned.
* ``command.py``: the ``serve`` options and the checks made before the server listens.

A browser user is not the machine's owner. Every app runs with the operator's options and
``--served``: the checkpoint is the operator's (resolved when the server starts), nothing typed
in the browser names a path on the server, training from the app is off unless the operator
passes ``--allow-training`` (then only into the operator's folder, on the operator's corpus,
within the operator's bounds, and a run ends with its tab), the history is off unless the
operator names a database (each visitor sees and evicts only their own session), and exports
become browser downloads.
"""

from nietzsche_tui.serve.command import add_command, app_command, run_serve

__all__ = ["add_command", "app_command", "run_serve"]
