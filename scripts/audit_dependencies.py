"""Audit the locked dependencies for known vulnerabilities (the last step of `make lint`).

pip-audit asks PyPI's JSON API about each pinned release (``/pypi/<name>/<version>/json``). A
machine that cannot reach it (no network, or a package mirror that serves the index but not that
API) gets no answer for any package, and ``pip-audit --strict`` fails then exactly as it fails for
one vulnerable package. So the service is probed first, with the first pin of the lock file:

- it answers: pip-audit decides, over both lock files; a known vulnerability, or a pin it
  cannot audit, fails with pip-audit's exit status;
- it does not: a loud warning that nothing was audited, and exit 0, so that a machine without
  network can still lint; exit 2 instead when ``AUDIT_REQUIRED=1`` (set it wherever the
  service is reachable, CI included, so an outage cannot pass for a clean audit).

Arguments are passed on to pip-audit, e.g. ``--ignore-vuln GHSA-xxxx`` for a reviewed finding.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LOCK_FILES = (ROOT / "requirements.lock", ROOT / "requirements-dev.lock")
SERVICE = "https://pypi.org/pypi"
NOT_AUDITED = 2
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
_RULE = "=" * 78


def first_pin(lock_file: Path) -> tuple[str, str]:
    """The first ``name==version`` of a lock file: a release the service must know."""
    match = _PIN.search(lock_file.read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f"{lock_file.name}: no pinned requirement; run `make lock`")
    return match[1], match[2]


def unreachable(service: str, name: str, version: str) -> str | None:
    """Why ``service`` cannot report on ``name==version``, or None when it can."""
    url = f"{service}/{name}/{version}/json"
    try:
        response = httpx.get(url, timeout=10, follow_redirects=True)
        body = response.json() if response.status_code == 200 else None
    except httpx.HTTPError as exc:
        return f"{url}: {type(exc).__name__} {exc}".rstrip()
    except ValueError:
        return f"{url}: the answer is not JSON"
    if not isinstance(body, dict) or "info" not in body:
        return f"{url}: HTTP {response.status_code}, no release data"
    return None


def main(argv: Sequence[str], environ: Mapping[str, str], service: str = SERVICE) -> int:
    reason = unreachable(service, *first_pin(LOCK_FILES[0]))
    if reason is None:
        requirements = [arg for lock in LOCK_FILES for arg in ("-r", str(lock))]
        command = [sys.executable, "-m", "pip_audit", "--strict", "--progress-spinner", "off"]
        command += ["--disable-pip", *requirements, *argv]
        # Our own interpreter with fixed arguments, plus those `make` was given.
        return subprocess.run(command, check=False).returncode  # noqa: S603
    required = environ.get("AUDIT_REQUIRED") == "1"
    verdict = "ERROR (AUDIT_REQUIRED=1)" if required else "WARNING"
    sys.stderr.write(
        f"{_RULE}\n{verdict}: dependency audit NOT RUN, the vulnerability service did not answer\n"
        f"  {reason}\n"
        f"  Known vulnerabilities in {', '.join(lock.name for lock in LOCK_FILES)} were not "
        "checked.\n"
        "  Audit where the service is reachable; AUDIT_REQUIRED=1 makes this an error.\n"
        f"{_RULE}\n"
    )
    return NOT_AUDITED if required else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
