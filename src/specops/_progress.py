"""Progress of long work, on stderr, only when a person is watching a terminal.

Code that does long work opens a task where it is, without threading a
reporter through every call::

    with progress.task("Parsing specs", total=len(files)) as task:
        for file in files:
            ...
            task.advance()

The command line turns the display on (``enable(sys.stderr)``) and it only
shows when that stream is a terminal: piped, in a CI log, under
``TERM=dumb`` or with ``SPECOPS_NO_PROGRESS=1`` every task is a no-op and
nothing is written. A library caller gets no-ops too unless it enables it.
The display is rich's (one live area for every open task, cleared when
the last one ends, so the command's own output follows on a clean screen).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["Task", "disable", "enable", "enabled", "task"]


class Task:
    """A task that shows nothing (the display is off)."""

    def advance(self, amount: float = 1) -> None:
        return None

    def update(self, *, completed: float | None = None, total: float | None = None, detail: str | None = None) -> None:
        return None


_NULL = Task()


class _ShownTask(Task):
    def __init__(self, display: _Display, task_id: Any) -> None:
        self._display = display
        self._id = task_id

    def advance(self, amount: float = 1) -> None:
        self._display.progress.advance(self._id, amount)

    def update(self, *, completed: float | None = None, total: float | None = None, detail: str | None = None) -> None:
        fields: dict[str, Any] = {}
        if detail is not None:
            fields["detail"] = detail
        self._display.progress.update(self._id, completed=completed, total=total, **fields)


class _Display:
    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self.lock = threading.Lock()
        self.open = 0

    def start(self, description: str, total: float | None) -> Any:
        with self.lock:
            if self.open == 0:
                self.progress.start()
            self.open += 1
            return self.progress.add_task(description, total=total, detail="")

    def finish(self, task_id: Any) -> None:
        with self.lock:
            self.progress.remove_task(task_id)
            self.open -= 1
            if self.open == 0:
                self.progress.stop()


_display: _Display | None = None


def enable(stream: TextIO) -> bool:
    """Show progress on ``stream`` if it is a terminal that wants it; returns whether it will."""
    global _display
    if not _wanted(stream):
        _display = None
        return False
    _display = _Display(stream)
    return True


def disable() -> None:
    global _display
    _display = None


def enabled() -> bool:
    return _display is not None


def _wanted(stream: TextIO) -> bool:
    if os.environ.get("SPECOPS_NO_PROGRESS") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def task(description: str, total: float | None = None) -> Iterator[Task]:
    """A unit of long work; ``total`` is ``None`` when its size is unknown."""
    display = _display
    if display is None:
        yield _NULL
        return
    task_id = display.start(description, total)
    try:
        yield _ShownTask(display, task_id)
    finally:
        display.finish(task_id)
