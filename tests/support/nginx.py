"""deploy/nginx/ghostpen.conf as nginx loads it, and as a test machine can run it.

The file is written for the ``http {}`` context: :func:`main_config` is the smallest nginx.conf
that includes it. :func:`render` writes a copy for this machine with :data:`SUBSTITUTIONS` and
nothing else changed, so what the tests run is the deployed file, not a second copy of it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.tls import TestCertificate

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "ghostpen.conf"
NGINX = shutil.which("nginx")
# Every temporary file nginx may write, kept in the run's folder rather than /var/lib/nginx.
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True)
class Listen:
    """Where the rendered config listens and proxies to, all on 127.0.0.1."""

    http_port: int
    https_port: int
    upstream_port: int


# (pattern in the deployed file, its replacement on a test machine). Each must still match: a
# deploy edit that drops one fails here instead of leaving the test on production paths.
SUBSTITUTIONS = (
    # The proxy listens on high loopback ports; IPv6 listens go (a test host may have no IPv6).
    (r"(?m)^( *)listen 80;", r"\1listen 127.0.0.1:{listen.http_port};"),
    (r"(?m)^( *)listen 443 ", r"\1listen 127.0.0.1:{listen.https_port} "),
    (r"(?m)^ *listen \[::\]:\d+[^;]*;\n", ""),
    # The upstream is the test's gateway.
    (r"server 127\.0\.0\.1:8000 ", "server 127.0.0.1:{listen.upstream_port} "),
    # The certificate is the test's; logs go to the run's folder.
    (r"/etc/ssl/ghostpen/fullchain\.pem", "{tls.certfile}"),
    (r"/etc/ssl/ghostpen/privkey\.pem", "{tls.keyfile}"),
    (r"/var/log/nginx/", "{directory}/"),
)


def main_config(include: Path, *, directory: Path | None = None) -> str:
    """An nginx.conf whose ``http {}`` includes ``include``, as /etc/nginx/nginx.conf does.

    With ``directory``, nginx runs in one process (no workers switching to another user) and
    keeps its temporary files there.
    """
    main, http = [], []
    if directory is not None:
        main.append("master_process off;")
        http += [f"{name}_temp_path {directory / name};" for name in TEMP_PATHS]
    http.append(f"include {include};")
    return "\n".join([*main, "events {}", "http {", *(f"    {line}" for line in http), "}", ""])


def render(directory: Path, listen: Listen, tls: TestCertificate) -> Path:
    """Write the deployed config with :data:`SUBSTITUTIONS` into ``directory``; return the
    nginx.conf that includes it."""
    text = CONFIG.read_text()
    for pattern, replacement in SUBSTITUTIONS:
        value = replacement.format(listen=listen, tls=tls, directory=directory)
        text, count = re.subn(pattern, value, text)
        assert count, f"{pattern!r} is no longer in {CONFIG}: update tests/support/nginx.py"
    site = directory / CONFIG.name
    site.write_text(text)
    conf = directory / "nginx.conf"
    conf.write_text(main_config(site, directory=directory))
    return conf


def command(conf: Path, *args: str) -> list[str]:
    """``nginx`` on ``conf``, its prefix, error log and pid file in conf's folder."""
    assert NGINX is not None, "nginx is not installed"
    directory = conf.parent
    return [
        NGINX,
        *("-p", f"{directory}/", "-c", str(conf), "-e", str(directory / "error.log")),
        *("-g", f"daemon off; pid {directory / 'nginx.pid'};"),
        *args,
    ]


@contextlib.contextmanager
def run(conf: Path, listen: Listen, tls: TestCertificate) -> Iterator[subprocess.Popen[bytes]]:
    """nginx in the foreground on ``conf`` until it answers over HTTPS; stopped after."""
    process = subprocess.Popen(command(conf), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.communicate()[1].decode()
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"https://127.0.0.1:{listen.https_port}/", verify=tls.trust, timeout=2)
                break
            assert time.monotonic() < deadline, "nginx did not start within 10 s"
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=10)
