"""Background processes with pid files: start detached, stop exactly what was
started (the whole process group), wait for an HTTP answer."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from .progress import StepFailed


class NotReady(StepFailed):
    """A process exited at start or did not answer in time; the message
    carries the tail of its log, which says why."""


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_alive(pid) else None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is not alive
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return True


def start(name: str, argv: list[str], env: dict, log_file: Path, pidfile: Path, cwd: Path | None = None) -> int:
    """Starts argv in its own session (so stop() can end the whole group)."""
    running = read_pid(pidfile)
    if running:
        return running
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile.write_text(str(proc.pid))
    return proc.pid


def stop(pidfile: Path, timeout: float = 20.0, crash: bool = False) -> bool:
    """SIGTERM to the process group, SIGKILL after the timeout (at once when
    crash is set, as a crash would end it). True if it was running."""
    pid = read_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGKILL if crash else signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pid):
        _reap(pid)
        time.sleep(0.1)
    if _group_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap(pid)
    pidfile.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _pgid_of(pid: int) -> int | None:
    """The process group of a live (non-zombie) process, else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[2])


def _group_alive(pgid: int) -> bool:
    return any(p.name.isdigit() and _pgid_of(int(p.name)) == pgid for p in Path("/proc").iterdir())


def wait_until(what: str, check, timeout: float, interval: float = 0.25, pidfile: Path | None = None, log_file: Path | None = None):
    """Polls check() until it returns a truthy value; fails with the log's tail."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except requests.RequestException as exc:
            last_error = exc
        if pidfile is not None and read_pid(pidfile) is None:
            raise NotReady(f"{what}: the process exited.\n{tail(log_file)}")
        time.sleep(interval)
    raise NotReady(f"{what}: not ready after {timeout:.0f}s ({last_error}).\n{tail(log_file)}")


def tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last lines of {path} ---\n" + "\n".join(text)


def log_size(path: Path) -> int:
    """Where the next start's lines will begin (logs are appended to across starts)."""
    return path.stat().st_size if path.exists() else 0


def log_since(path: Path, offset: int) -> str:
    """The log from `offset` on: what one start wrote."""
    try:
        with open(path, errors="replace") as fh:
            fh.seek(offset)
            return fh.read()
    except FileNotFoundError:
        return ""


def http_ok(url: str, timeout: float = 2.0) -> bool:
    return requests.get(url, timeout=timeout).status_code == 200
