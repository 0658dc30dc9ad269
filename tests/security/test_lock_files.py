"""The lock files match pyproject.toml: a dependency added or narrowed without `make lock` would
otherwise be missing from the image, which installs requirements.lock alone."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# `name==version \` followed by its `--hash=sha256:...` lines, up to the next pin.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n((?:\s+--hash=sha256:\w+.*\n)+)", re.M)


def pins(lock_file: str) -> dict[str, tuple[str, int]]:
    """Package name -> (pinned version, number of hashes)."""
    text = (ROOT / lock_file).read_text()
    return {
        canonicalize_name(name): (version, hashes.count("--hash=sha256:"))
        for name, version, hashes in PIN.findall(text)
    }


def requirements(*groups: str) -> list[Requirement]:
    project = PROJECT["project"]
    listed = [
        *(project["dependencies"] if "runtime" in groups else []),
        *(PROJECT["build-system"]["requires"] if "build" in groups else []),
        *(item for group in groups for item in project["optional-dependencies"].get(group, [])),
    ]
    return [Requirement(item) for item in listed]


@pytest.mark.parametrize(
    ("lock_file", "groups"),
    [
        ("requirements.lock", ("runtime", "build")),
        ("requirements-dev.lock", ("runtime", "dev", "embedded")),
    ],
)
def test_every_declared_dependency_is_pinned_within_its_range(
    lock_file: str, groups: tuple[str, ...]
) -> None:
    pinned = pins(lock_file)
    wrong = [
        f"{requirement} (locked: {pinned.get(canonicalize_name(requirement.name))})"
        for requirement in requirements(*groups)
        if canonicalize_name(requirement.name) not in pinned
        or not requirement.specifier.contains(
            pinned[canonicalize_name(requirement.name)][0], prereleases=True
        )
    ]
    assert wrong == [], "run `make lock`"


def test_every_pin_is_hashed_and_both_files_agree() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    lines = [
        line
        for name in ("requirements.lock", "requirements-dev.lock")
        for line in (ROOT / name).read_text().splitlines()
        if re.match(r"[A-Za-z0-9]", line)
    ]
    # Every requirement line is a hashed pin: pip --require-hashes refuses anything else.
    assert len(lines) == len(runtime) + len(dev)
    assert all(count >= 1 for _, count in [*runtime.values(), *dev.values()])
    shared = runtime.keys() & dev.keys()
    assert {name: runtime[name][0] for name in shared} == {name: dev[name][0] for name in shared}
