"""Progress for long operations, printed to stderr so stdout stays machine-readable."""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

Reporter = Callable[[str], None]


def silent(message: str) -> None:
    """A reporter that says nothing, for library callers that want no output."""


class StageReporter:
    """Numbered stages with elapsed times: '[2/5 12.3s] reading 40 work units'."""

    def __init__(self, total_stages: int, stream: TextIO = sys.stderr) -> None:
        self.total = total_stages
        self.stage = 0
        self.stream = stream
        self.started = time.monotonic()
        self._stage_starts: list[tuple[str, float]] = []

    def marks(self) -> list[tuple[str, float]]:
        """(stage name, time.monotonic() when it started), in order."""
        return list(self._stage_starts)

    def stage_seconds(self) -> dict[str, float]:
        """Wall seconds per named stage so far; the current stage counts up to now."""
        marks = self._stage_starts + [("", time.monotonic())]
        return {name: round(marks[i + 1][1] - start, 3)
                for i, (name, start) in enumerate(marks[:-1])}

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stage_started(self, message: str, name: str | None = None) -> None:
        self.stage += 1
        self._stage_starts.append((name or f"stage {self.stage}", time.monotonic()))
        self.say(message)

    def say(self, message: str) -> None:
        print(f"[{self.stage}/{self.total} {self.elapsed():6.1f}s] {message}", file=self.stream,
              flush=True)
