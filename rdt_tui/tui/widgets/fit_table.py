"""A table whose columns fit its width: every column stays on screen, and when the texts are
too wide the widest are cut with an ellipsis (a long address, a host's reason for being
unreachable) instead of pushing the last columns off to the right. The whole texts are kept
(``whole``), and drawn whole again once there is room (a wider terminal, the keys panel closed).
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len, set_cell_size

from .plain_table import PlainTable


def fit(widths: list[int], floors: list[int], room: int) -> list[int]:
    """Column widths that fit in ``room`` cells: as they are when they fit, else the widest
    cut first, down to one cap for all, none below its floor (its header)."""
    pairs = list(zip(widths, floors, strict=True))
    cap = max(widths, default=0)
    while cap > 0 and sum(max(min(w, cap), f) for w, f in pairs) > room:
        cap -= 1
    out = [max(min(w, cap), f) for w, f in pairs]
    spare = room - sum(out)  # fewer than the columns cut (one more each did not fit)
    for i, w in enumerate(widths):
        if spare > 0 and out[i] < w:
            out[i] += 1
            spare -= 1
    return out


def cut(text: str, width: int) -> str:
    """``text`` in ``width`` cells, its end replaced by an ellipsis when it does not fit."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)) + "…"


class FitTable(PlainTable):
    """Rows of whole texts by key, drawn cut to the table's width."""

    def __init__(self, columns: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names = columns
        self.texts: dict[str, dict[str, str]] = {}  # row key -> column -> its whole text
        self._widths: list[int] = []  # the columns' widths as last set

    def set_rows(self, rows: dict[str, tuple[str, ...]]) -> None:
        """Every row, replaced (key -> one whole text per column)."""
        self.texts = {key: dict(zip(self.names, cells, strict=True)) for key, cells in rows.items()}
        self.fit()

    def set_cells(self, key: str, **cells: str) -> bool:
        """Some columns of one row; False when the table has no such row."""
        if key not in self.texts:
            return False
        self.texts[key].update(cells)
        self.fit()
        return True

    def whole(self, key: str, column: str) -> str:
        return self.texts[key][column]

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        room = self.scrollable_content_region.width - 2 * self.cell_padding * len(self.names)
        if room <= 0:  # not laid out yet: whole texts until the first resize fits them
            room = sum(cell_len(t) for r in self.texts.values() for t in r.values())
        rows = list(self.texts.values())
        widths = fit(
            [max([len(c), *(cell_len(r[c]) for r in rows)]) for c in self.names],
            [len(c) for c in self.names],
            room,
        )
        if widths != self._widths or [k.value for k in self.rows] != list(self.texts):
            self._rebuild(widths)
            return
        for key, row in self.texts.items():
            for col, width in zip(self.names, widths, strict=True):
                text = cut(row[col], width)
                if self.get_cell(key, col) != text:
                    self.update_cell(key, col, text)

    def _rebuild(self, widths: list[int]) -> None:
        """The table again with columns of these widths, the cursor on the same row. Set, not
        measured: a column Textual narrows after a cell shrinks is drawn at its old width."""
        selected = self.selected()
        self.clear(columns=True)
        for col, width in zip(self.names, widths, strict=True):
            self.add_column(col, width=width, key=col)
        for key, row in self.texts.items():
            cells = [cut(row[c], w) for c, w in zip(self.names, widths, strict=True)]
            self.add_row(*cells, key=key)
        self._widths = widths
        if selected in self.texts:
            self.move_cursor(row=self.get_row_index(selected))

    def selected(self) -> str | None:
        """The key of the row under the cursor."""
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
