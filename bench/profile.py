"""Optional py-spy sampling of the gateway under load (``python -m bench.run --profile``).

py-spy is not a project dependency: ``.venv/bin/pip install py-spy`` first. The raw
(collapsed-stack) output is kept next to the results; the summary lists the functions with
the most samples on the stack (inclusive) and at the top of it (self).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# Frames that only say "the event loop ran something": not where the time goes.
NOISE = ("<module>", "run (asyncio/runners.py", "run_forever", "_run_once", "_run (asyncio")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float | None, output: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` and its children for ``seconds`` (or until :func:`stop`), at 250 Hz.

    Non-blocking sampling, so the target is not paused; it still costs a little CPU.
    """
    binary = py_spy()
    if binary is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    argv = [binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
    argv += ["--rate", "250", "--function", "--format", "raw", "--output", str(output)]
    if seconds is not None:
        argv += ["--duration", str(max(1, round(seconds)))]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(recorder: subprocess.Popen[bytes]) -> None:
    """End an open-ended recording; py-spy writes its output on SIGINT."""
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=60)


_FILE = re.compile(r"\(([^/:)]+)[/:]")
_OURS = {"shared": "ghostpen", "gateway": "ghostpen", "workers": "ghostpen", "ghostpen": "ghostpen"}


def summarize(path: Path, top: int = 30) -> dict[str, Any]:
    """Top functions by inclusive and self samples, and self samples per package.

    Fractions of all samples. Per package is the robust view: SQLAlchemy's greenlets and
    resumed coroutines cut stacks short, so inclusive shares of callers are underestimated.
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame for frame in stack.split(";") if frame]
        # Process/thread header frames from --subprocesses are not functions.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        own[frames[-1]] += count
        match = _FILE.search(frames[-1])
        package = match.group(1) if match else "?"
        libraries[_OURS.get(package, package.removesuffix(".py"))] += count
        for frame in set(frames):
            if not frame.startswith(NOISE):
                inclusive[frame] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(n / total, 4)] for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "packages": share(libraries),
        "inclusive": share(inclusive),
        "self": share(own),
    }
