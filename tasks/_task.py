"""The one task decorator of this package: a Prefect task whose arguments Prefect does not
walk.

Why: before a task runs, Prefect visits every argument (``visit_collection``) to resolve
futures and record lineage.  Our arguments are catalogs, plans and overviews of up to 100k
reports, and never hold a future (the flows call their tasks synchronously); walking them
took half of a 100k-report purge flow's time (docs/performance.md).  Every argument is
passed wrapped in ``quote()``, which Prefect unwraps before the task's function is called,
so the function sees exactly what the flow passed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

__all__ = ["MaintenanceTask", "maintenance_task"]

P = ParamSpec("P")
R = TypeVar("R")


class MaintenanceTask(Generic[P, R]):
    """A Prefect task called with quoted arguments; ``fn`` is the plain function."""

    def __init__(self, prefect_task: Any, fn: Callable[P, R]) -> None:
        self.prefect_task = prefect_task
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        quoted_args = [quote(value) for value in args]
        quoted_kwargs = {name: quote(value) for name, value in kwargs.items()}
        result: R = self.prefect_task(*quoted_args, **quoted_kwargs)
        return result


def maintenance_task(
    *, retries: int = 0, retry_delay_seconds: Sequence[float] | None = None
) -> Callable[[Callable[P, R]], MaintenanceTask[P, R]]:
    """``@task(cache_policy=NO_CACHE, ...)`` with quoted arguments (see the module docstring).

    Every task uses ``NO_CACHE``: a cached result of a destructive or audit step would be a
    lie about what this run did.
    """

    def decorate(fn: Callable[P, R]) -> MaintenanceTask[P, R]:
        options: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": retries}
        if retry_delay_seconds is not None:
            options["retry_delay_seconds"] = list(retry_delay_seconds)
        return MaintenanceTask(task(fn, **options), fn)

    return decorate
