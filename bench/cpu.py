"""CPU time per process group, read from /proc: n8n, each service (gunicorn
master and workers), the stack's private Postgres cluster. A phase takes a
reading before and after and divides the difference by the replies it got:
the sizing model of docs/scaling.md is built on these figures."""
from __future__ import annotations

import os
from pathlib import Path

from ops import procs

GROUPS = ("n8n", "collision", "llm", "evolution")
TICKS = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command may hold spaces and parentheses: the fields follow the last ')'
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # utime and stime (fields 14 and 15 of stat; 12 and 13 after the command)
    return (int(fields[11]) + int(fields[12])) / TICKS


def _tree_seconds(root: int, tree: dict[int, list[int]]) -> float:
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += _cpu_seconds(pid)
        todo.extend(tree.get(pid, []))
    return total


def _postmaster(stack) -> int | None:
    pidfile = Path(stack.data_dir) / "pg" / "postmaster.pid"
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def reading(stack) -> dict[str, float]:
    """CPU seconds used so far by each group (living processes only: take
    both readings while the same processes run)."""
    tree = _children()
    out = {}
    for name in GROUPS:
        # n8n: the main process, and in queue mode its workers and webhook processors too
        names = stack.n8n_process_names() if name == "n8n" else [name]
        pids = [procs.read_pid(stack.pidfile(n)) for n in names]
        out[name] = sum(_tree_seconds(pid, tree) for pid in pids if pid)
    pm = _postmaster(stack)
    out["postgres"] = _tree_seconds(pm, tree) if pm else 0.0
    return out


def per_reply_ms(before: dict, after: dict, replies: int) -> dict[str, float] | None:
    """CPU milliseconds per reply of each group between two readings."""
    if not replies:
        return None
    return {k: (after[k] - before.get(k, 0.0)) * 1000 / replies for k in after}
