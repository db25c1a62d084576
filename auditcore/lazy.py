"""Heavy libraries imported on first use, so that commands which never need them start fast."""

import importlib
from typing import Any


class LazyModule:
    """Stands for a module and imports it when one of its attributes is first read.

    scipy takes over a second to import; the ingest command and the worker's ingest tasks reach
    the statistics modules through their imports but never call them.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)
