"""Names that become path components: model names, versions and tags.

Why: a model name is a directory under the registry and the audit directory, and a version is
part of an audit entry's directory name.  Refusing dangerous names at the boundary, before any
path is built, means no later code has to wonder whether ``../`` could sneak in (borg's
``make_path_safe``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from bot_core._fs import display_path
from bot_core.errors import InvalidNameError

__all__ = ["MAX_NAME_LENGTH", "ModelName", "NameKind", "Version", "check_name", "validate_name"]

MAX_NAME_LENGTH = 128
"""Longest accepted model name, version or tag (characters)."""

NameKind = Literal["model name", "version", "tag"]


def check_name(value: str) -> str | None:
    """Return why ``value`` cannot be used as a path component, or ``None`` when it can."""
    if not value.strip():
        return "it is blank"
    if value != value.strip():
        return "it starts or ends with whitespace"
    if len(value) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} characters"
    if display_path(value) != value:
        return "it is not valid UTF-8"
    if value.startswith("."):
        return "it starts with a dot"
    if ".." in value:
        return "it contains '..'"
    for forbidden in ("/", "\\"):
        if forbidden in value:
            return f"it contains {forbidden!r}"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "it contains a control character"
    return None


def validate_name(value: str, *, kind: NameKind = "model name") -> str:
    """Return ``value`` unchanged, or raise :class:`InvalidNameError` saying why it is unsafe."""
    problem = check_name(value)
    if problem is not None:
        raise InvalidNameError(f"invalid {kind} {display_path(value)!r}: {problem}")
    return value


def _pydantic_check(value: str) -> str:
    problem = check_name(value)
    if problem is not None:
        raise ValueError(f"unsafe as a path component: {problem}")
    return value


ModelName = Annotated[str, AfterValidator(_pydantic_check)]
"""A model name as stored in registry files; must be safe as a directory name."""

Version = Annotated[str, AfterValidator(_pydantic_check)]
"""A report version (``v3``); must be safe inside an audit entry's directory name."""
