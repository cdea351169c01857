"""The lines of a run's log that name a failure (Traceback, CUDA OOM, NCCL...), to jump to.

Filled by its parent (tui/widgets/log_pane.py) from a search on the node over the whole log;
choosing a line posts :class:`ErrorList.Chosen` with its byte offset.
"""

from __future__ import annotations

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

MAX_SHOWN = 500


class ErrorList(OptionList):
    DEFAULT_CSS = """
    ErrorList { height: auto; max-height: 45%; border: round $error; display: none; }
    ErrorList.-shown { display: block; }
    """

    class Chosen(Message):
        def __init__(self, offset: int) -> None:
            super().__init__()
            self.offset = offset

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.offsets: list[int] = []
        self.border_title = "errors in the log (Enter jumps)"

    def add(self, offset: int, text: str) -> None:
        """One more line, kept in file order; a line already listed is skipped."""
        if offset in self.offsets or len(self.offsets) >= MAX_SHOWN:
            return
        self.offsets.append(offset)
        self.add_option(Option(text.strip()[:300] or "(empty line)", id=str(offset)))
        if self.highlighted is None:
            self.highlighted = 0  # Enter jumps to the first error at once

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(int(event.option.id)))
