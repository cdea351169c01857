"""TFRecord files (what TensorBoard event files are made of), followed like a growing log.

A record is ``uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)``,
little-endian. Both checksums are verified. What a live writer has not finished (fewer bytes
than the header or the length promise) is a torn tail: the position stays before it and the
next read tries again. A record whose data fails its checksum is skipped (its length was
verified) and reported; a header that fails its checksum gives no trustworthy length, so the
reader looks for the next offset where a header verifies and reports the bytes it passed.

CRC32C (Castagnoli) has no implementation in the standard library; this one is table driven,
eight bytes per step through four 65536-entry tables (each folds two bytes), built on first
use: 2-4x TensorBoard's own pure-Python fallback, which goes a byte at a time.
"""

import os
import struct
from array import array
from typing import List, Optional, Tuple

_POLY = 0x82F63B78  # CRC32C, reflected
_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")
# A length above this is taken as corruption, not as a record still being written.
MAX_RECORD = 1 << 30

_tables: Optional[Tuple[List[int], array, array, array, array]] = None


def _build() -> Tuple[List[int], array, array, array, array]:
    byte = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        byte.append(c)
    # slices[j][b]: the CRC contribution of byte b followed by j zero bytes
    slices = [byte]
    for _ in range(7):
        prev = slices[-1]
        slices.append([(prev[i] >> 8) ^ byte[prev[i] & 0xFF] for i in range(256)])

    def pair(lo: List[int], hi: List[int]) -> array:
        return array("I", [lo[i & 0xFF] ^ hi[i >> 8] for i in range(65536)])

    return (
        byte,
        pair(slices[7], slices[6]),
        pair(slices[5], slices[4]),
        pair(slices[3], slices[2]),
        pair(slices[1], slices[0]),
    )


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C of ``data`` (continuing from ``crc``)."""
    global _tables
    if _tables is None:
        _tables = _build()
    byte, t0, t1, t2, t3 = _tables
    crc ^= 0xFFFFFFFF
    words = len(data) >> 3
    if words:
        for w in struct.unpack_from(f"<{words}Q", data):
            x = crc ^ w
            crc = t0[x & 0xFFFF] ^ t1[(x >> 16) & 0xFFFF] ^ t2[(x >> 32) & 0xFFFF] ^ t3[x >> 48]
    for b in data[words << 3 :]:
        crc = byte[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _masked_header_crc(length: int) -> int:
    """``masked_crc32c`` of the 8 bytes of a header: they are ``length`` little-endian, one
    word, so the four table lookups suffice (the reader's hot path, once per record)."""
    global _tables
    if _tables is None:
        _tables = _build()
    _byte, t0, t1, t2, t3 = _tables
    x = length ^ 0xFFFFFFFF
    crc = (t0[x & 0xFFFF] ^ t1[(x >> 16) & 0xFFFF] ^ t2[(x >> 32) & 0xFFFF] ^ t3[x >> 48]) ^ (
        0xFFFFFFFF
    )
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record as a writer frames it (tests and the benchmark write with this too)."""
    header = struct.pack("<Q", len(data))
    return header + _U32.pack(masked_crc32c(header)) + data + _U32.pack(masked_crc32c(data))


class RecordReader:
    """Follows one TFRecord file from a byte offset; ``read`` returns the whole records added."""

    def __init__(self, path: str, inode: Optional[int] = None, offset: int = 0) -> None:
        self.path = path
        self.inode = inode
        self.offset = offset
        self.size = offset  # the file's size at the last read
        self.problems: List[str] = []  # corruption found, oldest first (the caller drains it)

    def position(self) -> Tuple[Optional[int], int]:
        return self.inode, self.offset

    def read(self, limit: int = 8 << 20) -> Tuple[List[bytes], bool]:
        """Records after the offset (about ``limit`` bytes of them), and whether more wait."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below, in every path
        except OSError:
            return [], False
        with fh:
            st = os.fstat(fh.fileno())
            if (self.inode is not None and st.st_ino != self.inode) or st.st_size < self.offset:
                # Replaced or truncated under us: a new file, read from its start.
                self.offset = 0
            self.inode = st.st_ino
            self.size = st.st_size
            fh.seek(self.offset)
            buf = fh.read(min(limit, st.st_size - self.offset))
            more = self.offset + len(buf) < st.st_size
            records, used = self._split(buf, fh)
        self.offset += used
        return records, more

    def _split(self, buf: bytes, fh: object) -> Tuple[List[bytes], int]:
        records: List[bytes] = []
        pos, end = 0, len(buf)
        unpack_header, unpack_u32 = _HEADER.unpack_from, _U32.unpack_from
        while end - pos >= 12:
            length, crc = unpack_header(buf, pos)
            if _masked_header_crc(length) != crc or length > MAX_RECORD:
                # A writer appends a header whole before anything else: twelve bytes that
                # do not verify are damage, not a write in progress.
                skip = _resync(buf, pos + 1)
                if skip is None:
                    skip = end - 11  # the last bytes may begin the next header
                self.problems.append(
                    f"{self.path}: corrupt record header at byte {self.offset + pos}: "
                    f"{skip - pos} bytes skipped"
                )
                pos = skip
                continue
            stop = pos + 12 + length + 4
            if stop > end:
                if not records and length + 16 > end - pos:
                    # One record longer than a read: fetch it whole.
                    whole = self._read_whole(fh, pos, stop)
                    if whole is not None:
                        buf, end = buf[:pos] + whole, pos + len(whole)
                        continue
                break  # torn tail: wait for the writer
            data = buf[pos + 12 : pos + 12 + length]
            if masked_crc32c(data) != unpack_u32(buf, stop - 4)[0]:
                self.problems.append(
                    f"{self.path}: record at byte {self.offset + pos} failed its data "
                    f"checksum ({length} bytes): skipped"
                )
            else:
                records.append(data)
            pos = stop
        return records, pos

    def _read_whole(self, fh: object, pos: int, stop: int) -> Optional[bytes]:
        seek, read = getattr(fh, "seek"), getattr(fh, "read")  # noqa: B009 - a file object
        seek(self.offset + pos)
        data = read(stop - pos)
        return data if len(data) == stop - pos else None


def _resync(buf: bytes, start: int) -> Optional[int]:
    """The next offset at or after ``start`` where a record header verifies, if any."""
    unpack_header = _HEADER.unpack_from
    for pos in range(start, len(buf) - 11):
        length, crc = unpack_header(buf, pos)
        if length <= MAX_RECORD and _masked_header_crc(length) == crc:
            return pos
    return None
