"""``serve`` builds on textual-serve's private methods and attributes (pyproject pins it below 2):
if a release renames or reshapes any of them, this fails loudly here instead of the server
misbehaving quietly for visitors."""

import inspect

import pytest
from textual_serve.app_service import AppService
from textual_serve.server import Server

# What nietzsche_tui/serve overrides or reads, with the parameters it calls them with.
OVERRIDDEN = [
    (Server, "_make_app", ["self"]),
    (Server, "handle_index", ["self", "request"]),
    (Server, "handle_websocket", ["self", "request"]),
    (Server, "handle_download", ["self", "request"]),
    (Server, "on_startup", ["self", "app"]),
    (Server, "on_shutdown", ["self", "app"]),
    (AppService, "_build_environment", ["self", "width", "height"]),
    (AppService, "_open_app_process", ["self", "width", "height"]),
]


@pytest.mark.parametrize(("cls", "name", "parameters"), OVERRIDDEN, ids=lambda v: getattr(v, "__name__", str(v)))
def test_the_methods_serve_overrides_still_exist_with_their_parameters(cls, name, parameters):
    method = getattr(cls, name, None)
    assert method is not None, f"textual-serve's {cls.__name__}.{name} is gone: nietzsche_tui/serve must follow"
    assert list(inspect.signature(method).parameters) == parameters


def test_the_app_services_private_attributes_serve_reads_are_still_set():
    source = inspect.getsource(AppService)
    for attribute in ("self._process", "self._stdin", "self._task"):
        assert attribute in source, f"textual-serve's AppService no longer sets {attribute}"
