"""Progress lines of `make up` and the other ops commands, each with the
seconds since the command started, so a step that takes minutes (the first
npm install, n8n's first start) says so while it happens instead of leaving
the terminal silent:

    [hybridflow] 12.3s  installing n8n 2.41.1 and Node 24 from npm into ... (first time only, about 5 min)...

The Makefile passes the moment `make` started (--since), so the lines of its
own steps (scripts/say.sh) and these share one clock."""
from __future__ import annotations

import sys
import time

_started = time.time()


def start_clock(since: float | None = None) -> None:
    """Counts from `since` (epoch seconds, from the Makefile) or from now."""
    global _started
    _started = since if since else time.time()


def started_at() -> float:
    """The clock's origin, for a child process that prints lines of its own."""
    return _started


def elapsed() -> float:
    return time.time() - _started


def log(msg: str) -> None:
    """One progress line, on stderr like npm's and pip's: stdout stays for
    what a command answers (`python -m ops postgres-url` is read by make test)."""
    print(f"[hybridflow] {elapsed():.1f}s  {msg}", file=sys.stderr, flush=True)


class StepFailed(RuntimeError):
    """A step that failed for a reason its message explains in words (a
    process that exited, with its log; a key that does not fit): `make up`
    prints the message, never a stack trace."""
