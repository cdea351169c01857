"""The node's record of alerts: ``alerts.jsonl`` (the last ``KEEP``) and what a console saw.

Appends are one ``write`` of one line to a file opened with O_APPEND, so a crash leaves at
worst a torn last line, which reading skips. When the file holds twice ``KEEP`` lines it is
rewritten atomically with the last ``KEEP``. ``alerts-seen.json`` holds the last alert a
console showed, so attaching can say "3 alerts while you were away".
"""

import json
import os
from typing import Any, Dict, List, Optional

from .files import CorruptFile, read_json, write_atomic, write_json_atomic

KEEP = 1000


class AlertLog:
    def __init__(self, root: str, keep: int = KEEP) -> None:
        self.path = os.path.join(root, "alerts.jsonl")
        self.seen_path = os.path.join(root, "alerts-seen.json")
        self.keep = keep
        records = self._read()
        self._torn = self._ends_torn()
        self.lines = len(records)
        self.last_seq = int(records[-1]["seq"]) if records else 0

    def _read(self) -> List[Dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return []
        out = []
        for line in data.splitlines():
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue  # a torn last line after a crash
            if isinstance(record, dict) and isinstance(record.get("seq"), int):
                out.append(record)
        return out

    def _ends_torn(self) -> bool:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() == 0:
                    return False
                fh.seek(-1, os.SEEK_END)
                return fh.read(1) != b"\n"
        except FileNotFoundError:
            return False

    def append(self, record: Dict[str, Any]) -> Dict[str, Any]:
        record = dict(record, seq=self.last_seq + 1)
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        if self._torn:  # end the torn line first, or this record would be glued to it
            line, self._torn = b"\n" + line, False
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.last_seq += 1
        self.lines += 1
        if self.lines >= 2 * self.keep:
            kept = self._read()[-self.keep :]
            data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
            write_atomic(self.path, data.encode("utf-8"), durable=False)
            self.lines = len(kept)
        return record

    def read(
        self, since_seq: int = 0, since_t: float = 0.0, limit: int = KEEP
    ) -> List[Dict[str, Any]]:
        """The last ``limit`` alerts after seq ``since_seq`` and time ``since_t``, oldest
        first (only the last ``keep`` are ever kept)."""
        found = [
            r
            for r in self._read()[-self.keep :]
            if r["seq"] > since_seq and float(r.get("t") or 0) >= since_t
        ]
        return found[-limit:] if limit > 0 else []

    def seen(self) -> int:
        try:
            data = read_json(self.seen_path)
        except CorruptFile:
            return 0
        value = data.get("seq") if isinstance(data, dict) else None
        return value if isinstance(value, int) else 0

    def mark_seen(self, seq: Optional[int] = None) -> None:
        seq = self.last_seq if seq is None else seq
        if seq > self.seen():
            write_json_atomic(self.seen_path, {"seq": seq}, durable=False)
