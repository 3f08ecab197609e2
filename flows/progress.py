"""Progress of a run in this process, for the CLI's bars: the flow reports, whoever listens shows it.

The flow calls :func:`report` as pages and volumes finish; ``dossier process`` installs a listener that drives rich
progress bars. With no listener (a worker, a test) reporting costs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, str, int], None]
"""listener(stage, event, n): stage is "pages", "ocr" or "volumes"; event "total" sets the total to n, "advance"
moves it on by n."""

_lock = threading.Lock()
_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Start sending progress to a listener; returns a function that stops it."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return stop


def report(stage: str, event: str, n: int = 1) -> None:
    """Tell every listener about progress; a failing listener never fails the run."""
    with _lock:
        targets = list(_listeners)
    for listener in targets:
        try:
            listener(stage, event, n)
        except Exception:  # noqa: BLE001 - a display problem must not stop a dossier
            pass
