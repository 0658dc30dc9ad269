"""`ghostpen dev` exits 0 when Ctrl-C stopped its children, 1 (and says who) when one crashed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ghostpen.dev import _exit_code


def finished(code: int, role: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})", role])
    child.wait()
    return child


def test_clean_stop_is_success() -> None:
    assert _exit_code([finished(0, "gateway"), finished(0, "worker")]) == 0


def test_a_crashed_child_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code([finished(0, "gateway"), finished(3, "worker")]) == 1
    assert "worker exited with code 3" in capsys.readouterr().err


def test_a_child_still_running_is_not_a_crash() -> None:
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "worker"])
    try:
        assert _exit_code([finished(0, "gateway"), running]) == 0
    finally:
        running.kill()
        running.wait()
