"""Cut a byte stream into lines the way a terminal shows a training log.

``\\n``, ``\\r\\n`` and a lone ``\\r`` (a tqdm progress update) each end a line. The bytes after
the last terminator are a partial line, held back until more arrive or the stream ends.
Undecodable bytes become U+FFFD instead of an error. With ``max_line``, a line longer than
that many bytes is cut: its first ``max_line`` bytes come out with :data:`CUT_MARK` appended
and the rest, up to its terminator, is skipped, so memory stays flat whatever a job prints.
"""

from typing import List, Optional

# split_complete: the one decoder of whole lines, kept importable from here.
from .logtext import CUT_MARK, LogText, decode_lines, split_complete  # noqa: F401


class LineSplitter:
    """Feed chunks, get complete lines; ``consumed`` counts the bytes behind those lines."""

    def __init__(self, start_offset: int = 0, max_line: Optional[int] = None) -> None:
        self._fed = start_offset
        self.max_line = max_line
        self._skipping = False  # inside a line already cut: drop bytes up to its terminator
        self._partial = b""
        # A chunk that ended in \r whose \n may open the next chunk (a CRLF cut in two).
        self._after_cr = False

    @property
    def consumed(self) -> int:
        """Stream offset just after the last complete line handed out."""
        return self._fed - len(self._partial)

    @property
    def pending(self) -> int:
        """Bytes held back as a partial last line."""
        return len(self._partial)

    def feed(self, data: bytes) -> List[str]:
        complete = self._take(data)
        if complete is None:
            return self._cut_partial([])
        return self._cut_partial(decode_lines(complete, self.max_line))

    def feed_text(self, data: bytes) -> LogText:
        """What ``feed`` gives, as a :class:`LogText`: the complete lines left as bytes."""
        text = LogText(self.max_line)
        complete = self._take(data)
        if complete is not None:
            text.add_bytes(complete)
        text.add_lines(self._cut_partial([]))
        return text

    def _take(self, data: bytes) -> Optional[bytes]:
        """The complete lines that ``data`` ends (from the partial line before it on), or
        None; the bytes after the last terminator are held back."""
        if not data:
            return None
        self._fed += len(data)
        start = 0
        if self._after_cr and data[:1] == b"\n":
            # The \n of a CRLF whose \r ended the previous chunk: not a second, empty line.
            start = 1
        self._after_cr = False
        if self._skipping:
            start = self._skip(data, start)
            if start < 0:
                return None
        buf = self._partial + data[start:] if self._partial else data[start:]
        cut = whole_lines_end(buf) - 1
        if cut < 0:
            self._partial = buf
            return None
        complete = buf[: cut + 1]
        self._partial = buf[cut + 1 :]
        self._after_cr = not self._partial and complete.endswith(b"\r")
        return complete

    def _skip(self, data: bytes, start: int) -> int:
        """Where the cut line ends in ``data`` (after its terminator), or -1: all skipped."""
        ends = [i for i in (data.find(b"\n", start), data.find(b"\r", start)) if i >= 0]
        if not ends:
            return -1
        i = min(ends)
        self._skipping = False
        if data[i : i + 2] == b"\r\n":
            return i + 2
        if data[i : i + 1] == b"\r" and i + 1 == len(data):
            self._after_cr = True
        return i + 1

    def _cut_partial(self, lines: List[str]) -> List[str]:
        if self.max_line is not None and len(self._partial) > self.max_line:
            head = self._partial[: self.max_line].decode("utf-8", errors="replace")
            lines.append(head + CUT_MARK)
            self._partial = b""
            self._skipping = True
        return lines

    def flush(self) -> List[str]:
        """The held-back partial line as a last line (the stream has ended)."""
        self._skipping = False
        if not self._partial:
            return []
        line = self._partial.decode("utf-8", errors="replace")
        self._partial = b""
        return [line]


def whole_lines_end(data: bytes) -> int:
    """Where the whole lines of ``data`` end: just after its last ``\\n`` or ``\\r``, 0 when it
    has none. The bytes after are a partial line. Every reader of a log on the node keeps to
    this (the splitter here, and ``agent/follower.read_chunk`` for clients), so a client's
    chunks end where the agent's lines do."""
    return max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
