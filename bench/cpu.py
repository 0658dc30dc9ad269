"""Who used the CPU during a load phase: per-role CPU seconds from ``/proc`` (Linux only)."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS = float(os.sysconf("SC_CLK_TCK"))
# Processes this harness did not start, recognised by their command name.
BY_COMMAND = {"postgres": "postgres", "redis-server": "redis", "wrk": "wrk"}
# Postgres server processes shared by every database (a backend names its database).
POSTGRES_SHARED = ("checkpointer", "writer", "autovacuum", "launcher", "archiver", "stats")

Snapshot = dict[int, tuple[str, float]]  # pid -> (role, CPU seconds so far)


def snapshot(groups: dict[int, str], database: str) -> Snapshot:
    """CPU seconds so far per process of interest, keyed by pid.

    ``groups`` maps our children's process groups to roles; Postgres backends count only
    when serving ``database`` (other sessions may be using the same server).
    """
    seen: Snapshot = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pgrp, utime, stime = int(fields[2]), int(fields[11]), int(fields[12])
        role = groups.get(pgrp) or BY_COMMAND.get(command)
        if role == "postgres" and not _ours(entry, database):
            continue
        if role is None and pid == os.getpid():
            role = "bench (this process)"
        if role is not None:
            seen[pid] = (role, (utime + stime) / TICKS)
    return seen


def _ours(entry: Path, database: str) -> bool:
    """The postmaster, a shared server process, or a backend of ``database``."""
    try:
        title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if not title.startswith("postgres:"):
        return True  # the postmaster itself
    return f" {database} " in title or any(word in title for word in POSTGRES_SHARED)


def total_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, from ``/proc/stat``)."""
    fields = [int(value) for value in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS


def usage(before: Snapshot, after: Snapshot, seconds: float) -> dict[str, float]:
    """Average cores used per role between two snapshots, largest first.

    Per process, so one that exits in between is not subtracted (its last slice is lost).
    """
    cores: dict[str, float] = {}
    for pid, (role, used) in after.items():
        previous = before.get(pid)
        start = previous[1] if previous is not None and previous[0] == role else 0.0
        cores[role] = cores.get(role, 0.0) + (used - start) / seconds
    return {role: round(value, 2) for role, value in sorted(cores.items(), key=lambda i: -i[1])}
