"""No secret in the repository: every tracked file is scanned with detect-secrets, and a finding
that the reviewed baseline (.secrets.baseline) does not list fails.

The baseline holds the fake credentials that tests and examples need, each audited as not a
secret. To add one on purpose, `git add` the file, then run
`.venv/bin/detect-secrets scan --baseline .secrets.baseline` and
`.venv/bin/detect-secrets audit .secrets.baseline` (docs/security.md, "Secrets").
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings, transient_settings

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ".secrets.baseline"
# Verifying a finding means sending it to its provider: never from a test.
VERIFICATION = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"


def load_baseline() -> dict[str, Any]:
    baseline: dict[str, Any] = json.loads((ROOT / BASELINE).read_text())
    return baseline


def unreviewed(root: Path, files: list[str]) -> list[str]:
    """Findings in ``files`` (paths relative to ``root``) that the baseline does not list, as
    ``path:line: type``; scanned with the baseline's detectors and filters, as the CLI does."""
    baseline = load_baseline()
    filters = [item for item in baseline["filters_used"] if item["path"] != VERIFICATION]
    with transient_settings({**baseline, "filters_used": filters}):
        found = SecretsCollection(root=str(root))
        for name in files:
            found.scan_file(name)
    # Matched as the CLI does, on file, type and hash; line numbers move with every edit.
    reviewed = {
        (name, secret.type, secret.secret_hash)
        for name, secret in SecretsCollection.load_from_baseline(baseline)
    }
    return [
        f"{name}:{secret.line_number}: {secret.type}"
        for name, secret in found
        if (name, secret.type, secret.secret_hash) not in reviewed
    ]


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listing.split("\0") if name and name != BASELINE]


def test_tracked_files_hold_no_secret_beyond_the_reviewed_baseline() -> None:
    assert unreviewed(ROOT, tracked_files()) == []


def test_every_baseline_entry_was_audited_as_not_a_secret() -> None:
    entries = [item for items in load_baseline()["results"].values() for item in items]
    assert entries
    assert [item for item in entries if item.get("is_secret") is not False] == []


def test_the_baseline_runs_every_detector() -> None:
    """A baseline written with detectors left out (or limits raised) would let secrets by."""
    with default_settings() as settings:
        every_detector = settings.json()["plugins_used"]
    assert load_baseline()["plugins_used"] == every_detector


def test_a_realistic_key_in_a_new_file_is_caught(tmp_path: Path) -> None:
    # Assembled here so that this file itself holds no such value.
    aws_key = "AKIA" + "Q3EGRX7VZ2MTBN5K"
    private_key = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n"
    (tmp_path / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{aws_key}"\n')
    (tmp_path / "deploy.pem").write_text(private_key)
    found = unreviewed(tmp_path, ["settings.py", "deploy.pem"])
    assert "settings.py:1: AWS Access Key" in found
    assert "deploy.pem:1: Private Key" in found


def test_a_reviewed_fake_is_excused_only_where_it_was_reviewed(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "tests" / "conftest.py")
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "settings.py")
    assert unreviewed(tmp_path, ["tests/conftest.py"]) == []
    assert unreviewed(tmp_path, ["settings.py"]) != []
