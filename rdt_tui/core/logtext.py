"""The complete lines of one read of a log, kept as the bytes they came in until someone needs
``str`` lines.

A multi-GB log is mostly tqdm repaints. Decoding it, cutting it into a ``str`` per line and
joining the lines again for the parser's whole-chunk regex cost more than the regex itself; the
bar scanner (``core/barscan.py``) reads the bytes as they are and decodes only the lines that
are not plain bars. ``LogText`` holds a read as *pieces*: bytes of whole lines as they came
(each ended by ``\\n``, ``\\r\\n`` or a lone ``\\r``, a tqdm repaint), undecoded, and ``str``
lines already made (a partial line cut at ``max_line``, the last line at the end of
a stream). :meth:`lines` gives exactly what :class:`core.lines.LineSplitter.feed` would have.
"""

from typing import Iterator, List, Optional, Sequence, Tuple, Union

CUT_MARK = " [rdt-tui: line cut here, too long]"
_CR_TO_LF = bytes.maketrans(b"\r", b"\n")
# What str.splitlines also ends a line at, and a terminal does not.
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

Piece = Union[bytes, List[str]]


def normalize(complete: bytes) -> bytes:
    """``complete`` with every line ended by ``\\n`` (a ``\\r\\n`` or a lone ``\\r`` made one)."""
    if b"\r" not in complete:
        return complete
    if b"\r\n" in complete:
        complete = complete.replace(b"\r\n", b"\n")
    return complete.translate(_CR_TO_LF)


def decode_lines(complete: bytes, max_line: Optional[int]) -> List[str]:
    """The ``str`` lines of ``complete`` (whole lines), decoded as the splitter decodes them,
    a line longer than ``max_line`` characters cut."""
    return cut_lines(split_complete(complete), max_line)


def split_complete(complete: bytes) -> List[str]:
    """Lines of a byte string that ends with a terminator."""
    text = complete.decode("utf-8", errors="replace")
    if not any(c in text for c in _OTHER_BREAKS):
        return text.splitlines()  # one C pass: \n, \r\n and \r, and nothing else here
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    lines.pop()  # the empty string after the final terminator
    return lines


def segment_lines(seg: bytes, max_line: Optional[int], errors: str) -> List[str]:
    """The lines of the text between two matches of a whole-line pattern that starts at the
    line end before its line (``core/barscan.py``): each line after its terminator (the
    first, the previous match's line end or the chunk's start; the terminator of the last is
    the next match's start), so an empty line is one terminator."""
    text = normalize(seg)[1:].decode("utf-8", errors)
    return cut_lines(text.split("\n"), max_line)


def cut_lines(lines: List[str], max_line: Optional[int]) -> List[str]:
    """``lines``, each longer than ``max_line`` characters cut with ``CUT_MARK``."""
    if max_line is None:
        return lines
    return [x if len(x) <= max_line else x[:max_line] + CUT_MARK for x in lines]


class LogText:
    """One read's complete lines, in order, as pieces (see the module's docstring)."""

    __slots__ = ("_lines", "max_line", "pieces")

    def __init__(self, max_line: Optional[int] = None) -> None:
        self.max_line = max_line
        self.pieces: List[Piece] = []
        self._lines: Optional[List[str]] = None

    def add_bytes(self, data: bytes) -> None:
        """Whole lines as they came, decoded only when asked."""
        if data:
            self.pieces.append(data)
            self._lines = None

    def add_lines(self, lines: List[str]) -> None:
        if lines:
            self.pieces.append(lines)
            self._lines = None

    def extend(self, other: "LogText") -> None:
        for piece in other.pieces:
            if isinstance(piece, bytes):
                self.add_bytes(piece)
            else:
                self.add_lines(piece)

    def lines(self) -> List[str]:
        """Every line as ``str``, made once."""
        if self._lines is None:
            out: List[str] = []
            for piece in self.pieces:
                out.extend(
                    decode_lines(piece, self.max_line) if isinstance(piece, bytes) else piece
                )
            self._lines = out
        return self._lines

    def __bool__(self) -> bool:
        return bool(self.pieces)

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines())

    def size(self) -> int:
        """Bytes (or characters) held: what a read budget counts."""
        return sum(len(p) if isinstance(p, bytes) else sum(map(len, p)) for p in self.pieces)

    def first_with(self, words: Sequence[str]) -> Optional[Tuple[str, str]]:
        """``(word, line)``: the first of ``words`` found anywhere in these lines, and the
        first line holding it (as ``"\\n".join(lines())`` would be searched), or None. The
        bytes are searched as they are; only the line found is decoded."""
        for word in words:
            needle = word.encode("utf-8")
            probe = _probe(needle)
            for piece in self.pieces:
                if isinstance(piece, list):
                    line = next((x for x in piece if word in x), None)
                    if line is not None:
                        return word, line
                    continue
                if probe not in piece:
                    continue  # one byte looked for by memchr: far cheaper than the word
                at = piece.find(needle)
                if at < 0:
                    continue
                start = max(piece.rfind(b"\n", 0, at), piece.rfind(b"\r", 0, at)) + 1
                ends = [i for i in (piece.find(b"\n", at), piece.find(b"\r", at)) if i >= 0]
                line = piece[start : min(ends, default=len(piece))].decode("utf-8", "replace")
                if self.max_line is not None and len(line) > self.max_line:
                    return _slow_first_with(self.lines(), words)  # cut lines: their rule
                return word, line
        return None


# Capital letters, the rarest in log text first: the probe of a word is its rarest capital.
_RARE = b"QZXJKVYUGBHWMPFDCLNORETAIS"


def _probe(needle: bytes) -> bytes:
    """A byte of ``needle`` that log text holds seldom (its rarest capital, else its first
    byte): where that byte is absent, so is the word, and a one-byte search is a memchr."""
    capitals = [c for c in _RARE if c in needle]
    return bytes(capitals[:1]) or needle[:1]


def _slow_first_with(lines: List[str], words: Sequence[str]) -> Optional[Tuple[str, str]]:
    text = "\n".join(lines)
    word = next((w for w in words if w in text), None)
    if word is None:
        return None
    return word, next(x for x in lines if word in x)


def count_lines(data: bytes) -> int:
    """How many lines end in ``data`` (``\\n``, ``\\r\\n`` and a lone ``\\r`` each end one)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
