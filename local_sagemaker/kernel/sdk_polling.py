"""Offline, shorten the SageMaker SDK's polling so waits follow the local cloud, not the cloud's pace.

The SDK sleeps before it looks: ``deploy()`` polls every 30 s, ``fit()`` every 5 to 10 s and
re-describes the job only every 30 s of ``time.time()``. Against a local cloud that finishes
a job in seconds, those sleeps would be most of the run. Offline only, the ``time`` module
seen by ``sagemaker.session`` becomes a clock on which every sleep is ``POLL_SCALE`` as long
and time advances as if the full sleep had passed, so the SDK's own logic (intervals,
timeouts, the 30 s re-describe) is unchanged, just faster. Nothing else in the SDK changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

POLL_SCALE = 0.05


class ScaledClock:
    """A stand-in for the ``time`` module: ``sleep(s)`` waits ``s * scale`` and moves ``time()`` on by ``s``."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._ahead = 0.0
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        real = seconds * self.scale
        time.sleep(real)
        with self._lock:
            self._ahead += seconds - real

    def time(self) -> float:
        return time.time() + self._ahead

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback(module)`` right after ``name`` is first imported."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name, self.callback = name, callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        original = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            self.callback(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Apply ``callback`` to module ``name`` now if it is loaded, else as soon as it is."""
    if name in sys.modules:
        callback(sys.modules[name])
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, callback))
