"""``python -m flows serve``: every deployment of ``deploy/prefect.yaml`` served from one process.

The single-host alternative to ``prefect deploy`` + a worker (see ``docs/deployment.md``).
Why it reads ``deploy/prefect.yaml`` instead of declaring its own deployments: the names,
schedules, parameters, tags and concurrency of a served deployment must be exactly those an
operator reviews in the deployment file, so the two ways of running never drift apart.  Only
the work pool and the pull step are left out: a served run executes in this process's
working directory (run it from the checkout), under ``prefect.serve``'s runner.

Why it may start its own API server: Prefect's temporary ("ephemeral") API runs none of the
server's background services, so schedules would never fire and a paused run could not be
approved from another shell.  Without ``PREFECT_API_URL`` this command therefore starts
``prefect server start`` on loopback (SQLite under ``PREFECT_HOME``), serves against it, and
stops it on exit.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import serve
from prefect.schedules import Cron, Schedule
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot_core._types import Document
from bot_core.errors import InvalidInputError
from flows._common import DEFAULT_CONCURRENCY_LIMIT, ensure_concurrency_limit

__all__ = [
    "DEFAULT_PREFECT_FILE",
    "ConcurrencySpec",
    "DeploymentSpec",
    "PrefectFile",
    "ScheduleSpec",
    "ServeResult",
    "flow_of",
    "load_prefect_file",
    "local_api_server",
    "runner_deployments",
    "serve_deployments",
]

DEFAULT_PREFECT_FILE = Path(__file__).resolve().parent.parent / "deploy" / "prefect.yaml"
"""The deployment file of the checkout this module belongs to."""

_SERVER_START_TIMEOUT = 120.0
_SERVER_STOP_GRACE = 10.0


class _Loose(BaseModel):
    """A section of ``prefect.yaml``: keys this module does not use are Prefect's, ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ScheduleSpec(_Loose):
    """One ``schedules`` entry: a cron line in an IANA timezone."""

    cron: str
    timezone: str = "UTC"
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    def to_schedule(self) -> Schedule:
        return Cron(self.cron, timezone=self.timezone, active=self.active)


class ConcurrencySpec(_Loose):
    """A deployment's ``concurrency_limit``: how many of its runs at once, and what waits."""

    limit: int = Field(ge=1)
    collision_strategy: Literal["ENQUEUE", "CANCEL_NEW"] = "ENQUEUE"

    def to_config(self) -> ConcurrencyLimitConfig:
        return ConcurrencyLimitConfig(
            limit=self.limit, collision_strategy=ConcurrencyLimitStrategy(self.collision_strategy)
        )


class DeploymentSpec(_Loose):
    """One entry of ``deployments`` as this module needs it (work pool and pull left out)."""

    name: str = Field(min_length=1)
    entrypoint: str = Field(pattern=r"^[\w/]+\.py:\w+$")
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    concurrency_limit: ConcurrencySpec | None = None
    enforce_parameter_schema: bool = True


class PrefectFile(_Loose):
    """The parts of ``prefect.yaml`` shared with ``prefect deploy``."""

    name: str
    deployments: list[DeploymentSpec]


class ServeResult(Document):
    """What ``python -m flows serve`` printed when it stopped: what it served, where."""

    api_url: str
    started_local_server: bool
    deployments: list[str]


def load_prefect_file(path: str | os.PathLike[str] = DEFAULT_PREFECT_FILE) -> PrefectFile:
    """Read and validate a deployment file; :class:`InvalidInputError` says what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return PrefectFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(f"{path}: {where}: {first['msg']}") from exc


def flow_of(entrypoint: str) -> Flow[..., Any]:
    """The flow object an entrypoint such as ``flows/purge.py:purge`` names.

    Imported as a module of this package (``flows.purge``), not run as a script, so the served
    flow is the very object the rest of the code and the tests use.
    """
    path, _, attribute = entrypoint.partition(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    if module_name.split(".")[0] != __name__.split(".")[0]:
        raise InvalidInputError(f"entrypoint {entrypoint!r} is outside the {__package__} package")
    module = importlib.import_module(module_name)
    found = getattr(module, attribute, None)
    if not isinstance(found, Flow):
        raise InvalidInputError(f"entrypoint {entrypoint!r} does not name a Prefect flow")
    return found


def runner_deployments(
    specs: Sequence[DeploymentSpec], *, names: Sequence[str] = ()
) -> list[RunnerDeployment]:
    """``flow.to_deployment(...)`` for each spec (only ``names``, when given)."""
    known = {spec.name for spec in specs}
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidInputError(f"no deployment named {', '.join(unknown)}; known: {sorted(known)}")
    return [_to_deployment(spec) for spec in specs if not names or spec.name in names]


def _to_deployment(spec: DeploymentSpec) -> RunnerDeployment:
    deployment = flow_of(spec.entrypoint).to_deployment(
        name=spec.name,
        description=spec.description,
        tags=spec.tags,
        parameters=spec.parameters,
        schedules=[schedule.to_schedule() for schedule in spec.schedules],
        concurrency_limit=spec.concurrency_limit.to_config() if spec.concurrency_limit else None,
        enforce_parameter_schema=spec.enforce_parameter_schema,
    )
    # ``to_deployment`` is "sync compatible": called outside an event loop it returns the
    # deployment itself, never a coroutine; say so to the type checker honestly.
    if not isinstance(deployment, RunnerDeployment):
        raise RuntimeError("flows.serve must be called outside an event loop")
    return deployment


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def local_api_server(*, host: str = "127.0.0.1", port: int = 4200) -> Iterator[str]:
    """``prefect server start`` as a child process (SQLite under ``PREFECT_HOME``); its API URL.

    Stopped by PID on exit: SIGTERM, then SIGKILL after a grace period.
    """
    api_url = f"http://{host}:{port}/api"
    if _healthy(api_url):
        raise InvalidInputError(
            f"a Prefect server already answers on {host}:{port}; set PREFECT_API_URL={api_url} "
            "to serve against it, or choose another --port"
        )
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host]
    # The server's banner and logs go to our stderr: stdout carries only the JSON result.
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr.fileno(),
        env=env,
    )
    try:
        deadline = time.monotonic() + _SERVER_START_TIMEOUT
        while not _healthy(api_url):
            if process.poll() is not None:
                raise InvalidInputError(f"prefect server start exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise InvalidInputError(f"the Prefect server on {host}:{port} did not start")
            time.sleep(0.5)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=_SERVER_STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (a service manager stopping us) shuts down like Ctrl-C: ``serve`` then pauses
    the schedules and returns, and the local server is stopped."""
    del signum, frame
    os.kill(os.getpid(), signal.SIGINT)


def serve_deployments(
    prefect_file: str | os.PathLike[str] = DEFAULT_PREFECT_FILE,
    *,
    names: Sequence[str] = (),
    limit: int | None = None,
    host: str = "127.0.0.1",
    port: int = 4200,
) -> ServeResult:
    """Serve the file's deployments until interrupted; return what was served.

    Against ``PREFECT_API_URL`` when set, else against a local server started for the
    purpose.  Creates the global concurrency limit the flows hold (strict) when missing.
    """
    specs = load_prefect_file(prefect_file).deployments
    deployments = runner_deployments(specs, names=names)
    served = [f"{d.flow_name}/{d.name}" for d in deployments]
    configured = PREFECT_API_URL.value()
    with contextlib.ExitStack() as stack:
        api_url = configured or stack.enter_context(local_api_server(host=host, port=port))
        if not configured:
            # The runner's flow-run subprocesses and any shell we print for must find it too.
            os.environ["PREFECT_API_URL"] = api_url
            stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
            sys.stderr.write(f"serving against a local Prefect server: PREFECT_API_URL={api_url}\n")
        ensure_concurrency_limit(DEFAULT_CONCURRENCY_LIMIT)
        previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
        try:
            sys.stderr.write(f"serving {', '.join(served)}; stop with Ctrl-C or SIGTERM\n")
            serve(*deployments, limit=limit, print_starting_message=False)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return ServeResult(api_url=api_url, started_local_server=not configured, deployments=served)
