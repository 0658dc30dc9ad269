"""Schemathesis against a running platform's served OpenAPI document.

Each pass runs the `schemathesis` command line (examples, coverage, fuzzing and stateful
phases) as one kind of caller, and reads its NDJSON event stream for what was sent and what
came back. `tests/security/test_fuzz.py` decides what a pass must show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# What the fuzzer holds every answer to: no server error, and status code, content type,
# headers and body as the document says; plus the request-side and HTTP checks that hold for
# this API. Left out: `positive_data_acceptance`, which expects every request the document
# admits to succeed. Rules JSON Schema cannot state make some fail, as they should: opaque
# cursors and tokens, `from` before `to`, a known model, a cron expression, a webhook host
# that resolves to a public address, no control characters.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
)


@dataclass(frozen=True)
class FuzzPass:
    """One schemathesis run: who calls, and which operations (`--include-*`, `--exclude-*`
    options of the command line)."""

    name: str
    headers: dict[str, str]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass
class PassResult:
    name: str
    exit_code: int
    seconds: float
    operations: int
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def run_pass(
    fuzz_pass: FuzzPass,
    schema_url: str,
    reports: Path,
    *,
    examples: int,
    seed: int,
) -> PassResult:
    """Run one pass to the end (failures do not stop it) and read its reports."""
    reports.mkdir(parents=True, exist_ok=True)
    headers = [
        arg for name, value in fuzz_pass.headers.items() for arg in ("-H", f"{name}: {value}")
    ]
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        schema_url,
        *headers,
        *fuzz_pass.include,
        *fuzz_pass.exclude,
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--continue-on-failure",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(reports / "run.json"),
        "--report-ndjson-path",
        str(reports / "events.ndjson"),
    ]
    # The fuzzer is not ours to measure: under the suite's subprocess coverage it ran 2x slower.
    env = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    finished = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    (reports / "output.txt").write_text(finished.stdout + finished.stderr)
    summary: dict[str, Any] = json.loads((reports / "run.json").read_text())
    result = PassResult(
        name=fuzz_pass.name,
        exit_code=finished.returncode,
        seconds=float(summary["running_time"]),
        operations=int(summary["operations"]["tested"]),
        failures=[
            f"{failure['code']} {failure['title']}: {', '.join(failure['operations'])}"
            for failure in summary["failures"]
        ],
        errors=[json.dumps(error) for error in summary["errors"]],
        output=finished.stdout + finished.stderr,
    )
    result.statuses.update(_statuses(reports / "events.ndjson"))
    return result


def _statuses(events: Path) -> Counter[int]:
    """The status of every response the run recorded."""
    statuses: Counter[int] = Counter()
    with events.open() as lines:
        for line in lines:
            event = json.loads(line)
            scenario = event.get("ScenarioFinished")
            if scenario is None:
                continue
            for interaction in scenario["recorder"].get("interactions", {}).values():
                if (response := interaction.get("response")) is not None:
                    statuses[int(response["status_code"])] += 1
    return statuses


def report(results: list[PassResult], *, examples: int, seed: int) -> str:
    """The figures of a run as a Markdown table, for docs/security.md."""
    total: Counter[int] = Counter()
    for result in results:
        total.update(result.statuses)
    today = datetime.now(UTC).date().isoformat()
    lines = [
        f"{today}: seed {seed}, at most {examples} examples per operation and phase.",
        "",
        "| pass | operations | requests | 2xx | 4xx | 5xx | failed checks | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        by_class = Counter(status // 100 for status in result.statuses.elements())
        lines.append(
            f"| {result.name} | {result.operations} | {result.requests:,} | {by_class[2]:,} | "
            f"{by_class[4]:,} | {by_class[5]:,} | {len(result.failures)} | {result.seconds:.0f} |"
        )
    lines += [
        "",
        "Status codes over all passes: "
        + ", ".join(f"{status}: {count:,}" for status, count in sorted(total.items()))
        + ".",
        "",
    ]
    return "\n".join(lines)
