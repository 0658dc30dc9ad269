"""``ghostpen gateway`` refuses TLS flags it could not serve with, before the server starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghostpen.cli import main
from tests.support.tls import issue_certificate


def refused(capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    """Run ``ghostpen gateway`` with ``flags``; it must exit 2; return what it said."""
    assert main(["gateway", *flags]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("flag", ["--ssl-certfile", "--ssl-keyfile"])
def test_one_flag_without_the_other(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    err = refused(capsys, flag, "/etc/ssl/ghostpen/whatever.pem")
    assert "--ssl-certfile and --ssl-keyfile go together" in err


def test_a_key_that_is_not_the_certificates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ours, other = issue_certificate(tmp_path / "a"), issue_certificate(tmp_path / "b")
    err = refused(capsys, "--ssl-certfile", str(ours.certfile), "--ssl-keyfile", str(other.keyfile))
    assert "cannot serve TLS with" in err
    assert "KEY_VALUES_MISMATCH" in err


def test_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ours = issue_certificate(tmp_path)
    err = refused(
        capsys, "--ssl-certfile", str(tmp_path / "nope.pem"), "--ssl-keyfile", str(ours.keyfile)
    )
    assert "No such file or directory" in err
