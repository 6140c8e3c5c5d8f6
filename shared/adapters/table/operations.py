"""What the Table Storage adapters share: a table made by the first operation that finds it missing, and the
conditional write of an entity-group transaction."""
from __future__ import annotations

import functools
from typing import Any, Callable, Protocol, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.data.tables import UpdateMode

from shared.domain.errors import StorageUnavailable

IF_MATCH = MatchConditions.IfNotModified
T = TypeVar("T")


class TableMissing(StorageUnavailable):
    """404 TableNotFound: the table itself is missing (not a row)."""


class _MakesTable(Protocol):
    def ensure_ready(self) -> None: ...


def creating_table(method: Callable[..., T]) -> Callable[..., T]:
    """In Azure the template creates the table, so no request spends a round trip on creating it: the first operation
    that finds it missing (a local run, or a table deleted by hand) creates it and runs once more."""
    @functools.wraps(method)
    def run(self: _MakesTable, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except TableMissing:
            self.ensure_ready()
            return method(self, *args, **kwargs)
    return run


def conditional_write(entity: dict[str, Any], etag: str | None) -> tuple:
    """A transaction operation: insert when there is no ETag, else replace only that version."""
    if etag is None:
        return ("create", entity)
    return ("update", entity, {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": IF_MATCH})


def table_missing(error: HttpResponseError) -> bool:
    return getattr(error, "error_code", None) == "TableNotFound"
