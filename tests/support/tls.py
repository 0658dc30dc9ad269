"""Certificates made at test time: a throwaway CA (trustme) and a server certificate it signed."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

# What test clients dial: the loopback address by IP, and the host name the deploy files use.
HOSTS = ("127.0.0.1", "localhost", "api.example.com")


@dataclass(frozen=True)
class TestCertificate:
    __test__ = False

    certfile: Path  # the server's certificate chain, PEM
    keyfile: Path  # its private key, PEM, unencrypted
    trust: ssl.SSLContext  # a client context that trusts this certificate's CA and nothing else


def issue_certificate(directory: Path) -> TestCertificate:
    """A new CA and a server certificate for :data:`HOSTS`, written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert(*HOSTS)
    certfile, keyfile = directory / "server.pem", directory / "server.key"
    certfile.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(keyfile))
    # Given cadata, the context loads that CA only, not the system's.
    trust = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    return TestCertificate(certfile, keyfile, trust)
