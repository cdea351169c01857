"""A DataTable whose text cells are shown as they are.

Textual reads a ``str`` cell as Rich markup: a host's reason that names ``[/etc/ssh/...]`` raised
a MarkupError from the table's render and took the console down, and a Hydra override such as
``model.layers=[a,b]`` in a run's command, or Slurm's ``[slurm@2024-12-01T10:00]`` after a
node's reason, lost its brackets. The texts in our tables are never markup: they come from the
node, the job or the user. ``get_cell`` gives back the ``str`` that was put in.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


class _Plain(Text):
    """A cell made from a ``str`` here (so ``get_cell`` knows to give the ``str`` back)."""


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

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Any:
        value = super().get_cell(row_key, column_key)
        return value.plain if isinstance(value, _Plain) else value
