"""One signal naming style in the GUI: Qt's camelCase (``stateChanged``), never ``sig_*``."""

import importlib
import inspect
import pkgutil
import re

from PySide6.QtCore import QObject, Signal

import mmrl_desktop.gui

CAMEL = re.compile(r"_?[a-z][a-zA-Z0-9]*")  # a leading underscore marks a private signal


def gui_signals() -> list[tuple[str, str]]:
    """(qualified class name, signal name) for each Signal declared in mmrl_desktop.gui."""
    found = []
    prefix = mmrl_desktop.gui.__name__ + "."
    for info in pkgutil.walk_packages(mmrl_desktop.gui.__path__, prefix):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not (inspect.isclass(cls) and issubclass(cls, QObject)):
                continue
            if cls.__module__ != module.__name__:
                continue
            for name, value in vars(cls).items():
                if isinstance(value, Signal):
                    found.append((f"{cls.__module__}.{cls.__qualname__}", name))
    return found


def test_the_walk_finds_the_windows_signals():
    names = {(cls.rsplit(".", 1)[-1], name) for cls, name in gui_signals()}
    assert ("MainWindow", "ready") in names
    assert ("TrainerController", "stateChanged") in names


def test_no_signal_is_named_sig_and_all_are_camel_case():
    bad = [
        f"{cls}.{name}"
        for cls, name in gui_signals()
        if name.startswith("sig_") or not CAMEL.fullmatch(name)
    ]
    assert bad == []
