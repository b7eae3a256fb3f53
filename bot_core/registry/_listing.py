"""``champion``: the champion and challengers of each model, optionally with its history."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bot_core._fs import display_path
from bot_core.errors import RegistryNotFoundError
from bot_core.registry._config import DEFAULT_QUALITY_DIR
from bot_core.registry._models import (
    ChallengerView,
    ChampionListing,
    DecisionMetadata,
    ModelView,
)
from bot_core.registry._names import check_name, validate_name
from bot_core.registry._store import RegistryState, load_registry, quality_root, read_history

__all__ = ["list_champions", "model_names", "model_view"]


def model_names(root: Path) -> list[str]:
    """Model directories directly under ``root``, sorted; symlinks and unsafe names are skipped."""
    names: list[str] = []
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and check_name(entry.name) is None:
                names.append(entry.name)
    return sorted(names)


def model_view(state: RegistryState, *, history: bool = False) -> ModelView | None:
    """How ``champion`` shows one model; ``None`` when it has no champion."""
    champion = state.champion
    if champion is None:
        return None
    challengers = state.challengers.entries if state.challengers is not None else []
    updated_at = champion.decided_at
    if state.challengers is not None:
        updated_at = max(updated_at, state.challengers.updated_at)
    return ModelView(
        model_name=state.model_name,
        champion=champion.report,
        champion_metadata=DecisionMetadata(decided_at=champion.decided_at, reason=champion.reason),
        challengers=[
            ChallengerView(
                report=entry.report,
                metadata=DecisionMetadata(decided_at=entry.decided_at, reason=entry.reason),
            )
            for entry in challengers
        ],
        updated_at=updated_at,
        history=read_history(state.directory) if history else None,
    )


def list_champions(
    base_dir: str | os.PathLike[str] = DEFAULT_QUALITY_DIR,
    *,
    model: Sequence[str] | None = None,
    history: bool = False,
    repair: bool = True,
) -> ChampionListing:
    """List champions (contract 7, ``champion``).

    **Parameters:**

    * ``model`` - the models to show (``--model``, repeatable); all models when empty.  Named
      models without a champion are listed in ``missing_models``.
    * ``history`` - add each model's ``history.jsonl`` lines, oldest first.
    * ``repair`` - complete an interrupted commit found on the way (listed in ``repaired``).

    A missing ``base_dir`` is :class:`RegistryNotFoundError`; a corrupt registry file is
    :class:`CorruptRegistryError`.
    """
    named = sorted({validate_name(name, kind="model name") for name in model or ()})
    root = quality_root(base_dir)
    names = named or model_names(root)
    views: list[ModelView] = []
    missing: list[str] = []
    repaired: list[str] = []
    for name in names:
        try:
            state = load_registry(root, name, repair=repair)
        except RegistryNotFoundError:
            if not named:  # pragma: no cover - a directory vanished during the listing
                continue
            missing.append(name)
            continue
        if state.repaired:
            repaired.append(name)
        view = model_view(state, history=history)
        if view is None:
            if named:
                missing.append(name)
            continue
        views.append(view)
    return ChampionListing(
        status="ok",
        base_directory=display_path(str(root)),
        models=views,
        missing_models=missing or None,
        repaired=repaired or None,
    )
