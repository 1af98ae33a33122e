"""Progress of long steps on stderr, for the command line (never silent, never noisy).

Inside a :func:`reporting` block, every :func:`step` is reported on the block's stream:

- on a terminal, a live line (label and elapsed seconds, redrawn twice a second) while the step
  runs, removed when it ends; a step that took at least :data:`SLOW_S` seconds then leaves one
  line with its time;
- elsewhere (a log file, a pipe, a test runner), nothing live: each step that took at least
  :data:`SLOW_S` seconds writes one line when it ends;
- with ``quiet=True``, nothing.

The lines read ``tgnn COMMAND: LABEL: 12.3 s``. Library code may mark its own long steps with
:func:`step`; outside a :func:`reporting` block a step costs one context-variable lookup and
writes nothing. The live line is a ``tqdm`` bar, so it stacks with the bars that library code
shows (the sparse capture's, the training loop's) instead of overwriting them.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["SLOW_S", "Reporter", "reporting", "step", "live"]

SLOW_S = 2.0
"""A step that takes at least this many seconds leaves a line (on a terminal and in logs)."""

_REDRAW_S = 0.5
_clock = time.perf_counter  # tests replace it to fake a slow step


@dataclass(frozen=True)
class Reporter:
    """Where and how the steps of one command are reported.

    ``command`` names the command in each line (``tgnn COMMAND: ...``); ``live`` draws the
    running step on the stream (a terminal); ``quiet`` reports nothing.
    """

    command: str
    stream: TextIO
    live: bool
    quiet: bool = False

    def line(self, text: str) -> None:
        """One finished line, written around any live bars."""
        message = f"tgnn {self.command}: {text}"
        if self.live:
            from tqdm.auto import tqdm

            tqdm.write(message, file=self.stream)
        else:
            self.stream.write(message + "\n")
            self.stream.flush()


_CURRENT: ContextVar[Reporter | None] = ContextVar("tgnn_progress", default=None)


@contextmanager
def reporting(command: str, *, quiet: bool = False, stream: TextIO | None = None
              ) -> Iterator[Reporter]:
    """Report the :func:`step` blocks run inside on ``stream`` (default ``sys.stderr``).

    Live lines only when the stream is a terminal (``isatty()``) and ``quiet`` is False.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with reporting("demo", stream=out):
    ...     with step("a quick step"):
    ...         pass
    >>> out.getvalue()  # under SLOW_S: nothing
    ''
    """
    where = sys.stderr if stream is None else stream
    live = not quiet and bool(getattr(where, "isatty", lambda: False)())
    token = _CURRENT.set(Reporter(command, where, live, quiet))
    try:
        yield _CURRENT.get()  # type: ignore[misc]
    finally:
        _CURRENT.reset(token)


class _LiveLine:
    """A ``tqdm`` bar showing ``label`` and the elapsed time, redrawn by a daemon thread."""

    def __init__(self, reporter: Reporter, label: str) -> None:
        from tqdm.auto import tqdm

        self.bar: Any = tqdm(total=None, desc=f"tgnn {reporter.command}: {label}",
                             bar_format="{desc} ({elapsed})", file=reporter.stream,
                             leave=False, dynamic_ncols=True)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._redraw, daemon=True)
        self.thread.start()

    def _redraw(self) -> None:
        while not self.done.wait(_REDRAW_S):
            self.bar.refresh()

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.bar.close()


@contextmanager
def step(label: str) -> Iterator[None]:
    """Report the block as one step named ``label`` (see the module docstring).

    A step that raises writes no line: the error says what happened.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with reporting("view", stream=out), step("writing the page"):
    ...     pass
    >>> with step("outside any reporting block"):  # a no-op
    ...     pass
    """
    reporter = _CURRENT.get()
    if reporter is None or reporter.quiet:
        yield
        return
    start = _clock()
    live = _LiveLine(reporter, label) if reporter.live else None
    try:
        yield
    finally:
        if live is not None:
            live.close()
    elapsed = _clock() - start
    if elapsed >= SLOW_S:
        reporter.line(f"{label}: {elapsed:.1f} s")


def live() -> bool:
    """Whether the running command draws live progress (a terminal, not quiet): what to pass
    as ``progress=`` to library code that shows its own bar."""
    reporter = _CURRENT.get()
    return reporter is not None and reporter.live
