"""Reading and writing one model's registry directory, atomically and with crash repair.

A model directory ``<quality-dir>/<model>/`` holds ``champion.json``, ``challengers.json``,
``history.jsonl`` and, only while a commit is in flight, ``.commit.json``.

Why a journal: ``champion.json`` and ``challengers.json`` must change together or not at all,
and POSIX cannot rename two files atomically.  A commit therefore:

1. writes both new files under staged names (``.champion.json.<txid>.pending``), each through
   the ``SaveFile``-style :func:`~bot_core._fs.atomic_write_bytes`;
2. writes the journal ``.commit.json`` atomically, naming both staged files and the SHA-256 of
   their content, plus the history line, audit entry and log line that belong to the commit.
   This is the commit point: from here on the change is decided and will be completed;
3. renames each staged file over its final name, fsyncs the directory;
4. appends the history line, writes the audit entry, appends the log line (each skipped when
   already done, so completing twice is harmless);
5. removes the journal and fsyncs the directory.

A crash before step 2 leaves only staged files: the old registry stands, and the leftovers are
removed by the next commit.  A crash after step 2 leaves the journal: every reader sees it.
Commands that write (``promote``, ``champion``, ``snapshot``) complete the commit first
("repair": steps 3-5 again, checking each file against its hash); read-only runs (dry runs,
``champion_diff``) show the completed state without writing and report ``pending_repair``.
A file whose content matches neither the journal nor its staged copy stops everything with
:class:`~bot_core.errors.RegistryRecoveryError`.

Concurrency: writers hold an exclusive ``flock`` on the model directory from reading the
registry to removing the journal; readers hold a shared one.  A process that dies releases
its lock, so a crash never leaves the registry locked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from bot_core._fs import (
    atomic_write_bytes,
    display_path,
    fsync_directory,
    open_temporary_file,
)
from bot_core.errors import (
    CorruptRegistryError,
    OperationError,
    RegistryNotFoundError,
    RegistryRecoveryError,
)
from bot_core.registry._models import (
    ChallengersFile,
    ChampionFile,
    CommitJournal,
    HistoryEntry,
    JournalAudit,
    JournalFile,
    JournalLog,
)
from bot_core.registry._names import validate_name

__all__ = [
    "CHALLENGERS_FILE",
    "CHAMPION_FILE",
    "HISTORY_FILE",
    "JOURNAL_FILE",
    "LOCK_TIMEOUT_SECONDS",
    "RegistryState",
    "commit_registry",
    "create_new_file",
    "dump_document",
    "load_registry",
    "model_directory",
    "quality_root",
    "read_history",
    "read_state",
    "registry_lock",
    "repair_locked",
    "transaction_id",
]

CHAMPION_FILE: Literal["champion.json"] = "champion.json"
CHALLENGERS_FILE: Literal["challengers.json"] = "challengers.json"
HISTORY_FILE = "history.jsonl"
JOURNAL_FILE = ".commit.json"
LOCK_TIMEOUT_SECONDS = 10.0
"""How long a command waits for another process's lock on a model directory."""

_STALE_NAME = re.compile(
    r"^\.{1,2}(champion\.json|challengers\.json|commit\.json)\..+\.(pending|partial)$"
)
_LOG_TAIL_BYTES = 256 * 1024

_fault_hook: Callable[[str], None] | None = None
"""Test hook: called with the name of each commit step just done (``after_journal``,
``after_rename:champion.json``, ``after_rename:challengers.json``, ``before_journal_removed``).
Tests set it in a subprocess to kill the process at that point; it is ``None`` otherwise."""

_DocumentT = TypeVar("_DocumentT", bound=BaseModel)


def _fault(step: str) -> None:
    if _fault_hook is not None:
        _fault_hook(step)


@dataclass(frozen=True, slots=True)
class RegistryState:
    """One model's registry as read from disk.

    ``pending_repair``: an interrupted commit was found and not completed by this read (the
    files shown are those the commit will produce).  ``repaired``: this read completed one.
    """

    model_name: str
    directory: Path
    champion: ChampionFile | None
    challengers: ChallengersFile | None
    pending_repair: bool = False
    repaired: bool = False


# --- paths -----------------------------------------------------------------------------------


def quality_root(quality_dir: str | os.PathLike[str]) -> Path:
    """The registry root as an absolute path; :class:`RegistryNotFoundError` when missing."""
    root = Path(os.path.abspath(quality_dir))
    if not root.is_dir():
        raise RegistryNotFoundError(f"registry directory not found: {display_path(str(root))}")
    return root


def model_directory(quality_dir: str | os.PathLike[str], model: str) -> Path:
    """``<quality-dir>/<model>`` after checking the name, the root and the directory itself.

    The model directory must be a real directory: a symlink is refused, never followed.
    """
    validate_name(model, kind="model name")
    directory = quality_root(quality_dir) / model
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        raise RegistryNotFoundError(
            f"unknown model {model!r}: no directory {display_path(str(directory))}"
        ) from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise CorruptRegistryError(
            f"{display_path(str(directory))} is not a directory (symlinks are never followed)"
        )
    return directory


# --- locking ---------------------------------------------------------------------------------


@contextlib.contextmanager
def registry_lock(
    directory: Path, *, exclusive: bool, timeout: float = LOCK_TIMEOUT_SECONDS
) -> Iterator[None]:
    """Hold a ``flock`` on the model directory itself (no lock file is created)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, operation)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationError(
                        f"{display_path(str(directory))} is locked by another process; "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


# --- reading ---------------------------------------------------------------------------------


def dump_document(document: BaseModel) -> bytes:
    """How registry and audit documents are written: indented JSON and a final newline."""
    return document.model_dump_json(indent=2).encode("utf-8") + b"\n"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_bytes(path: Path) -> bytes | None:
    """The file's content, ``None`` when it does not exist; a symlink is an error."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CorruptRegistryError(
                f"{display_path(str(path))} is a symlink; the registry never follows symlinks"
            ) from exc
        raise CorruptRegistryError(
            f"{display_path(str(path))}: cannot read: {exc.strerror}"
        ) from exc
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _parse(model: type[_DocumentT], data: bytes, path: Path) -> _DocumentT:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        where = _location(first["loc"])
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        detail = f"{where}: {first['msg']}" if where else str(first["msg"])
        raise CorruptRegistryError(f"{display_path(str(path))}: {detail}{more}") from exc


def _check_consistency(
    directory: Path, model: str, champion: ChampionFile | None, challengers: ChallengersFile | None
) -> None:
    """Model names must match the directory, and each version may appear only once."""
    seen: set[str] = set()
    documents: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    if champion is not None:
        documents.append(
            (
                CHAMPION_FILE,
                champion.model_name,
                [("report", champion.report.model_name, champion.report.version)],
            )
        )
    if challengers is not None:
        documents.append(
            (
                CHALLENGERS_FILE,
                challengers.model_name,
                [
                    (f"entries[{index}].report", entry.report.model_name, entry.report.version)
                    for index, entry in enumerate(challengers.entries)
                ],
            )
        )
    for name, file_model, reports in documents:
        where = display_path(str(directory / name))
        if file_model != model:
            raise CorruptRegistryError(
                f"{where}: model_name {file_model!r} does not match directory {model!r}"
            )
        for location, report_model, version in reports:
            if report_model != model:
                raise CorruptRegistryError(
                    f"{where}: {location}.model_name {report_model!r} does not match {model!r}"
                )
            if version in seen:
                raise CorruptRegistryError(
                    f"{where}: {location}.version {version!r} appears more than once "
                    "in the registry"
                )
            seen.add(version)


def _read_journal(directory: Path) -> CommitJournal | None:
    data = _read_bytes(directory / JOURNAL_FILE)
    if data is None:
        return None
    try:
        return CommitJournal.model_validate_json(data)
    except ValidationError as exc:
        raise RegistryRecoveryError(
            f"{display_path(str(directory / JOURNAL_FILE))} is unreadable; "
            "inspect the model directory by hand"
        ) from exc


def _journal_contents(directory: Path, journal: CommitJournal) -> dict[str, bytes]:
    """The content each journaled file will have once the commit is complete."""
    contents: dict[str, bytes] = {}
    for file in journal.files:
        staged = _read_bytes(directory / file.staged_name)
        data = staged if staged is not None else _read_bytes(directory / file.name)
        if data is None or _sha256(data) != file.sha256:
            raise RegistryRecoveryError(
                f"interrupted commit {journal.transaction_id} in "
                f"{display_path(str(directory))}: {file.name} matches neither the journal "
                "nor its staged copy; inspect the model directory by hand"
            )
        contents[file.name] = data
    return contents


def read_state(directory: Path, model: str) -> RegistryState:
    """Read and validate the registry files of ``directory``; the caller holds a lock."""
    journal = _read_journal(directory)
    pending = _journal_contents(directory, journal) if journal is not None else {}
    champion_path = directory / CHAMPION_FILE
    challengers_path = directory / CHALLENGERS_FILE
    champion_data = pending.get(CHAMPION_FILE) or _read_bytes(champion_path)
    challengers_data = pending.get(CHALLENGERS_FILE) or _read_bytes(challengers_path)
    champion = None if champion_data is None else _parse(ChampionFile, champion_data, champion_path)
    challengers = (
        None
        if challengers_data is None
        else _parse(ChallengersFile, challengers_data, challengers_path)
    )
    _check_consistency(directory, model, champion, challengers)
    return RegistryState(
        model_name=model,
        directory=directory,
        champion=champion,
        challengers=challengers,
        pending_repair=journal is not None,
    )


def load_registry(
    quality_dir: str | os.PathLike[str], model: str, *, repair: bool = False
) -> RegistryState:
    """Read and validate one model's registry.

    With ``repair``, an interrupted commit is completed first (under the exclusive lock);
    without it, nothing is written and the state is the one the commit will produce.
    Raises :class:`InvalidNameError`, :class:`RegistryNotFoundError`,
    :class:`CorruptRegistryError` or :class:`RegistryRecoveryError`.
    """
    directory = model_directory(quality_dir, model)
    with registry_lock(directory, exclusive=False):
        state = read_state(directory, model)
    if not (repair and state.pending_repair):
        return state
    with registry_lock(directory, exclusive=True):
        repaired = repair_locked(directory)
        state = read_state(directory, model)
    return replace(state, repaired=repaired)


def read_history(directory: Path) -> list[HistoryEntry]:
    """The lines of ``history.jsonl``, oldest first; ``[]`` when there is none.

    A last line without its newline is an append cut short by a crash: it is ignored (the
    commit journal re-appends it).  Any other invalid line is a :class:`CorruptRegistryError`.
    """
    path = directory / HISTORY_FILE
    data = _read_bytes(path)
    if not data:
        return []
    lines = data.split(b"\n")
    lines.pop()  # b"" when the file ends with a newline, else a torn line: ignored
    return [
        _parse_history_line(line, path, number)
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]


def _parse_history_line(line: bytes, path: Path, number: int) -> HistoryEntry:
    try:
        return HistoryEntry.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = _location(first["loc"])
        detail = f"{where}: {first['msg']}" if where else str(first["msg"])
        raise CorruptRegistryError(f"{display_path(str(path))}: line {number}: {detail}") from exc


# --- writing ---------------------------------------------------------------------------------


def transaction_id(champion: ChampionFile | None, challengers: ChallengersFile) -> str:
    """A commit's identifier: derived from the new files' content, so it is reproducible."""
    digest = hashlib.sha256()
    digest.update(dump_document(champion) if champion is not None else b"null")
    digest.update(b"\0")
    digest.update(dump_document(challengers))
    return digest.hexdigest()[:16]


def _remove_stale_staged_files(directory: Path) -> None:
    """Remove staged files of commits that crashed before their journal was written."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if _STALE_NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def commit_registry(
    directory: Path,
    *,
    champion: ChampionFile | None,
    challengers: ChallengersFile,
    started_at: datetime,
    history: HistoryEntry | None = None,
    audit: JournalAudit | None = None,
    log: JournalLog | None = None,
) -> str:
    """Replace the registry files of ``directory`` together; return the transaction id.

    The caller holds the exclusive :func:`registry_lock` and has completed any interrupted
    commit.  ``champion`` ``None`` leaves ``champion.json`` absent (a model with challengers
    only).  The history line, audit entry and log line are written after the two files, and
    re-written by a repair if a crash interrupts them.
    """
    txid = transaction_id(champion, challengers)
    _remove_stale_staged_files(directory)
    planned: list[tuple[Literal["champion.json", "challengers.json"], bytes]] = []
    if champion is not None:
        planned.append((CHAMPION_FILE, dump_document(champion)))
    planned.append((CHALLENGERS_FILE, dump_document(challengers)))
    staged_paths: list[Path] = []
    try:
        files: list[JournalFile] = []
        for name, data in planned:
            staged_name = f".{name}.{txid}.pending"
            staged_paths.append(directory / staged_name)
            atomic_write_bytes(str(directory / staged_name), data)
            files.append(JournalFile(name=name, staged_name=staged_name, sha256=_sha256(data)))
        journal = CommitJournal(
            transaction_id=txid,
            model_name=challengers.model_name,
            started_at=started_at,
            files=files,
            history=history,
            audit=audit,
            log=log,
        )
        atomic_write_bytes(str(directory / JOURNAL_FILE), dump_document(journal))
    except BaseException:
        for path in staged_paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    _fault("after_journal")
    try:
        _complete(directory, journal)
    except OSError as exc:
        raise OperationError(
            f"commit {txid} of {display_path(str(directory))} was interrupted "
            f"({exc.strerror or exc}); the next command reading this registry completes it"
        ) from exc
    return txid


def repair_locked(directory: Path) -> bool:
    """Complete an interrupted commit, if there is one; the caller holds the exclusive lock."""
    journal = _read_journal(directory)
    if journal is None:
        return False
    _journal_contents(directory, journal)  # every file is checked before anything moves
    try:
        _complete(directory, journal)
    except OSError as exc:
        raise OperationError(
            f"cannot complete interrupted commit {journal.transaction_id} in "
            f"{display_path(str(directory))}: {exc.strerror or exc}"
        ) from exc
    return True


def _complete(directory: Path, journal: CommitJournal) -> None:
    """Steps 3-5 of a commit (module docstring); each step is skipped when already done."""
    for file in journal.files:
        staged = directory / file.staged_name
        if staged.exists():
            os.replace(staged, directory / file.name)
            _fault(f"after_rename:{file.name}")
    fsync_directory(str(directory))
    if journal.history is not None:
        _append_history(directory, journal.history)
    if journal.audit is not None:
        _write_audit(journal.audit)
    if journal.log is not None:
        _append_log(Path(journal.log.path), journal.log.line)
    _fault("before_journal_removed")
    os.unlink(directory / JOURNAL_FILE)
    fsync_directory(str(directory))


def _append_line(path: Path, line: bytes, *, cut_torn_tail: bool) -> None:
    """Append one line and fsync.

    When the file does not end with a newline, its torn last line is cut off
    (``cut_torn_tail``: our own history, whose lost line the journal re-appends), or the new
    line starts on a line of its own (a log other commands write too).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        size = os.fstat(fd).st_size
        prefix = b""
        if size and os.pread(fd, 1, size - 1) != b"\n":
            if cut_torn_tail:
                tail_start = max(0, size - _LOG_TAIL_BYTES)
                cut = os.pread(fd, size - tail_start, tail_start).rfind(b"\n")
                os.ftruncate(fd, tail_start + cut + 1 if cut >= 0 else tail_start)
            else:
                prefix = b"\n"
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, prefix + line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_history(directory: Path, entry: HistoryEntry) -> None:
    if any(line.transaction_id == entry.transaction_id for line in read_history(directory)):
        return
    _append_line(
        directory / HISTORY_FILE, entry.model_dump_json().encode("utf-8"), cut_torn_tail=True
    )


def _write_audit(audit: JournalAudit) -> None:
    summary_path = Path(audit.directory) / "summary.json"
    if _read_bytes(summary_path) is not None:
        return
    os.makedirs(audit.directory, exist_ok=True)
    atomic_write_bytes(str(summary_path), dump_document(audit.summary))


def _append_log(path: Path, line: str) -> None:
    encoded = line.encode("utf-8")
    os.makedirs(path.parent, exist_ok=True)
    existing = _read_tail(path)
    if encoded + b"\n" in existing:
        return
    _append_line(path, encoded, cut_torn_tail=False)


def _read_tail(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _LOG_TAIL_BYTES))
            return handle.read()
    except FileNotFoundError:
        return b""


def create_new_file(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet (an audit record): never replaces an existing one.

    The content is written and fsynced under a temporary name, then hard-linked to ``path``,
    which fails if ``path`` exists; readers never see a partial file.
    """
    directory = path.parent
    os.makedirs(directory, exist_ok=True)
    with open_temporary_file(str(directory), path.name) as (fd, temp_path):
        try:
            with os.fdopen(fd, "wb", closefd=True) as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp_path, 0o644)
            os.link(temp_path, path)
        except FileExistsError:
            raise OperationError(
                f"{display_path(str(path))} already exists; run the command again in a second"
            ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_path)
    fsync_directory(str(directory))
