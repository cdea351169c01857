"""A DataTable whose text cells are shown as they are.

Textual reads a ``str`` cell as Rich markup: a host's reason that names ``[/etc/ssh/...]`` raised
a MarkupError from the table's render and took the console down, and a Hydra override such as
``model.layers=[a,b]`` in a run's command, or Slurm's ``[slurm@2024-12-01T10:00]`` after a
node's reason, lost its brackets. The texts in our tables are never markup: they come from the
node, the job or the user. A cell read back (``get_cell``, ``get_row``) equals the ``str`` that
was put in.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


class _Plain(Text):
    """A cell made from a ``str`` here. It equals that ``str`` (and ``str()`` gives it), so a
    read of the cell compares as the text put in. The table's getters are not overridden:
    its own render reads the cells through them."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.plain == other
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # as Text: mutable, compared by value


def plain(cell: Any) -> Any:
    """``cell`` as text drawn as it is when it is a ``str``; anything else as it is."""
    if isinstance(cell, str):
        return _Plain(cell, no_wrap=True, end="")
    return cell


class PlainTable(DataTable[Any]):
    def add_row(
        self,
        *cells: Any,
        height: int | None = 1,
        key: str | None = None,
        label: Any = None,
    ) -> RowKey:
        return super().add_row(*map(plain, cells), height=height, key=key, label=label)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Any,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, plain(value), update_width=update_width)
