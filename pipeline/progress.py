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

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stage_started(self, message: str) -> None:
        self.stage += 1
        self.say(message)

    def say(self, message: str) -> None:
        print(f"[{self.stage}/{self.total} {self.elapsed():6.1f}s] {message}", file=self.stream,
              flush=True)
