"""The ``MetricStore`` state that its helpers work on (``metricblock`` appends a bar block to
its columns, ``metricseal`` seals them into ``columns.bin`` and maps them back), as a protocol.
The store calls them, so they hold it by this and never import ``metricstore``."""

import mmap
from typing import Any, Dict, List, Optional, Protocol, Sequence

NO_STEP = -(2**63)  # a point's step where its line gave none (or none a step can be)


class Series(Protocol):
    """A name's columns: arrays, or memoryviews of the mapped file in a sealed store."""

    seq: Any
    step: Any
    value: Any

    def __len__(self) -> int: ...


class StoreState(Protocol):
    directory: str
    names: List[str]
    last_seq: int
    write_error: Optional[str]
    _index: Dict[str, int]
    _batch_seq: Any
    _batch_t: Any
    _mapped: Optional[mmap.mmap]
    _sealed: Optional[Dict[str, Any]]
    _written: int
    _written_seq: int

    @property
    def _series(self) -> Sequence[Series]: ...

    def takes(self, names: List[str]) -> bool: ...

    def _add_name(self, name: str) -> int: ...

    def _append_points(
        self, points: Sequence[Any], seq: int, changed: Dict[int, int], new_names: List[str]
    ) -> int: ...

    def _load_summaries(self) -> None: ...
