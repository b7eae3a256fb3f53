"""Real servers on loopback for the deployment tests: PostgreSQL, a Prefect server, workers.

Why a plain module of helpers: the scale-out test needs a Prefect server on PostgreSQL and
two workers standing in for two hosts, and the ``serve`` test needs a flow process of its
own; each is a subprocess here, on a free 127.0.0.1 port, and each always stops (by PID:
SIGTERM, then SIGKILL after a grace period, its flow-run grandchildren included).

PostgreSQL comes from the Debian packages (``/usr/lib/postgresql/<version>/bin``).
``postgres`` refuses to run as root, so when the tests run as root ``initdb`` and
``postgres`` run as the ``postgres`` system user (``runuser -u postgres --``) in a fresh
directory under the system temporary directory that it owns (pytest's own temporary
directories are private to root).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "ManagedProcess",
    "PostgresServer",
    "PrefectServer",
    "find_postgres_bin",
    "free_port",
    "prefect_cli",
    "wait_until",
]

_STOP_GRACE = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Any, *, timeout: float, what: str, interval: float = 0.3) -> Any:
    """Call ``check()`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _children() -> dict[int, list[int]]:
    """Parent PID -> child PIDs, from ``/proc`` (Linux)."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) in parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (flow runs start in sessions of their own, so a process
    group signal would miss them)."""
    tree = _children()
    found: list[int] = []
    pending = list(tree.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(tree.get(child, []))
    return found


class ManagedProcess:
    """A subprocess started by these tests, its log file, and a stop that always works."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, size: int = 4000) -> str:
        """The end of the process's output, for assertion messages."""
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-size:].decode("utf-8", "replace")
        return ""

    def stop(self, *, grace: float = _STOP_GRACE, first_signal: int = signal.SIGTERM) -> None:
        """Signal the process and its descendants by PID; SIGKILL what is left after
        ``grace`` seconds."""
        family = [self.process.pid, *descendants(self.process.pid)] if self.running else []
        for pid in family:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, first_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        deadline = time.monotonic() + grace
        for pid in family:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``postgres``."""
    candidates = []
    for directory in glob.glob("/usr/lib/postgresql/*/bin"):
        path = Path(directory)
        if (path / "initdb").exists() and (path / "postgres").exists():
            version = path.parent.name
            candidates.append((int(version) if version.isdigit() else 0, path))
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1:``port`` with one database for Prefect.

    ``initdb`` with password (scram-sha-256) authentication over TCP, so the connection URL
    Prefect gets is the shape a real one has; durability is switched off (``fsync=off``):
    the cluster lives for one test module.
    """

    user = "prefect"
    database = "prefect"

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="bot-core-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sockets"
        self.socket_dir.mkdir()
        self.password = secrets.token_hex(12)
        self.port = free_port()
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL for Prefect (``PREFECT_API_DATABASE_CONNECTION_URL``)."""
        return (
            f"postgresql+asyncpg://{self.user}:{self.password}@127.0.0.1:{self.port}/"
            f"{self.database}"
        )

    def _tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._run_as, str(self.bin_dir / name), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=self.root,
        )

    def start(self) -> None:
        """initdb, start ``postgres``, wait until it accepts connections, create the database."""
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        if self._run_as:
            account = pwd.getpwnam("postgres")
            os.chown(password_file, account.pw_uid, account.pw_gid)
        self._tool(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        password_file.unlink()
        self.process = ManagedProcess(
            "postgres",
            [
                *self._run_as,
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-k",
                str(self.socket_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            log_path=self.root / "postgres.log",
            cwd=self.root,
        )
        try:
            wait_until(self._ready, timeout=60, what="PostgreSQL to accept connections")
            self._tool(
                "createdb", "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user,
                self.database,
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.process is None or not self.process.running:
            tail = self.process.log_tail() if self.process else ""
            raise AssertionError(f"postgres exited early:\n{tail}")
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            timeout=10,
        )
        return result.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), SIGKILL if it lingers; remove the files."""
        if self.process is not None:
            self.process.stop(grace=15, first_signal=signal.SIGINT)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


class PrefectServer:
    """``prefect server start`` on 127.0.0.1 with its own ``PREFECT_HOME`` and database."""

    def __init__(
        self,
        home: Path,
        *,
        database_url: str | None = None,
        extra_env: Mapping[str, str] = {},
        port: int | None = None,
    ) -> None:
        """``port``: a given one restarts a server where its clients expect it (the outage
        tests stop the API and bring it back on the same address and database)."""
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        env = prefect_env(home)
        # The UI is not needed by the tests and its static build costs seconds.
        env["PREFECT_UI_ENABLED"] = "false"
        if database_url is not None:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        env.update(extra_env)
        self.process = ManagedProcess(
            "prefect-server",
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            log_path=home / "server.log",
            env=env,
            cwd=home,
        )

    def healthy(self) -> bool:
        if not self.process.running:
            raise AssertionError(f"prefect server exited early:\n{self.process.log_tail()}")
        return api_healthy(self.api_url)

    def wait_healthy(self, timeout: float = 120) -> None:
        wait_until(self.healthy, timeout=timeout, what=f"the Prefect API at {self.api_url}")

    def stop(self) -> None:
        self.process.stop()


def api_healthy(api_url: str) -> bool:
    """Whether ``GET {api_url}/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return bool(response.status == 200 and json.loads(response.read()) is True)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def prefect_env(home: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a Prefect process on one "host": its own ``PREFECT_HOME``, no
    analytics, and our own settings (``BOT_CORE_*``, ``AWS_*``) only when given."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_", "BOT_CORE_", "AWS_"))
    }
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    env.update(extra)
    return env


def prefect_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``prefect ARGS`` (the CLI an operator types) and fail with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"prefect {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


@contextlib.contextmanager
def stopping(*items: Any) -> Iterator[None]:
    """Stop each item (``.stop()``) on exit, last started first, even when one stop fails."""
    try:
        yield
    finally:
        errors: list[BaseException] = []
        for item in reversed(items):
            try:
                item.stop()
            except BaseException as exc:  # keep stopping the rest
                errors.append(exc)
        if errors:
            raise errors[0]
