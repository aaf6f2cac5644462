"""What the pipeline steps, the commands, the service and the packs read from and write to the
store: the part of ``geo.storage.store.Store`` they call, as a ``typing.Protocol``, so a signature says
what a step needs (and a test double can stand in for a store)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa


@runtime_checkable
class StoreLike(Protocol):
    """The store as the jobs, the CLI, the service and maps use it."""

    url: str
    engine: "sa.Engine"

    def has_reference(self) -> bool:
        """Postcodes (the gazetteer) are loaded."""

    def read_sql(self, query, params: dict | None = None) -> "pd.DataFrame":
        """Rows of a query."""

    def table(self, name: str, columns=None) -> "pd.DataFrame":
        """A whole table, or only ``columns`` of it."""

    def frame(self, name: str, columns: Iterable[str] | None = None) -> "pd.DataFrame":
        """One of the frames of docs/FRAMES.md (StoreError when there is no such frame);
        ``columns``: those the caller reads (the frame holds at least those)."""

    def frames(self, names: Iterable[str], missing_ok: Iterable[str] = (),
               columns: dict | None = None) -> dict:
        """Several frames read together; those in ``missing_ok`` may be None; ``columns``:
        ``{frame: the columns read}``."""

    def insert_frame(self, conn: "sa.Connection", table: "sa.Table", frame: "pd.DataFrame") -> int:
        """Insert a frame's rows into a table inside a transaction."""

    def write_result(self, name: str, frame: "pd.DataFrame", params: dict | None = None) -> None:
        """Store an analysis output for the API, the packs and the maps."""

    def read_result(self, name: str) -> "pd.DataFrame":
        """A stored analysis output (StoreError when it has not been written)."""

    def result_names(self) -> list[str]:
        """The names of the stored results."""
