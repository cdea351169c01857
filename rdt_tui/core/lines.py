"""Cut a byte stream into lines the way a terminal shows a training log.

``\\n``, ``\\r\\n`` and a lone ``\\r`` (a tqdm progress update) each end a line. The bytes after
the last terminator are a partial line, held back until more arrive or the stream ends.
Undecodable bytes become U+FFFD instead of an error.
"""

from typing import List


class LineSplitter:
    """Feed chunks, get complete lines; ``consumed`` counts the bytes behind those lines."""

    def __init__(self, start_offset: int = 0) -> None:
        self._fed = start_offset
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
        if not data:
            return []
        self._fed += len(data)
        start = 0
        if self._after_cr and data[:1] == b"\n":
            # The \n of a CRLF whose \r ended the previous chunk: not a second, empty line.
            start = 1
        buf = self._partial + data[start:] if self._partial else data[start:]
        cut = max(buf.rfind(b"\n"), buf.rfind(b"\r"))
        if cut < 0:
            self._partial = buf
            self._after_cr = False
            return []
        complete = buf[: cut + 1]
        self._partial = buf[cut + 1 :]
        self._after_cr = not self._partial and complete.endswith(b"\r")
        return split_complete(complete)

    def flush(self) -> List[str]:
        """The held-back partial line as a last line (the stream has ended)."""
        if not self._partial:
            return []
        line = self._partial.decode("utf-8", errors="replace")
        self._partial = b""
        return [line]


def split_complete(complete: bytes) -> List[str]:
    """Lines of a byte string that ends with a terminator."""
    text = complete.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    lines.pop()  # the empty string after the final terminator
    return lines
