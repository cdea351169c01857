"""JSON-line objects (Diffusion Policy's ``logs.json.txt``) into the store as columns.

``parse_json_lines`` decodes a chunk's objects in C; making a ``MetricPoint`` per
value and numbering them one by one in the store then cost as much as the parse. A run of
consecutive objects with the same keys, a numeric step and values that are all numbers (or
all not) is the same as a run of tqdm bars: a ``BarBlock`` (the keys, the step of each object,
a column per key). Anything else, and every object where ``out`` is a plain list, goes through
``MetricParser._json_object``, the reference, object by object.
"""

import gc
import json
import re
from itertools import compress, repeat
from math import isnan
from operator import itemgetter, ne
from typing import Any, Dict, List, Sequence, Tuple, Union

from .metricsyntax import _STEP_KEY_SET, STEP_KEYS, LineParser
from .parsed import ParsedPoints
from .points import MAX_STEP, MetricPoint

MIN_RUN = 8  # shorter runs of one shape go object by object
_Out = Union[ParsedPoints, List[MetricPoint]]
_NUMBERS = frozenset([int, float])


def take_objects(
    parser: LineParser,
    objects: List[Dict[str, Any]],
    out: Union[ParsedPoints, List[MetricPoint]],
) -> None:
    """The points of consecutive JSON-line objects, as ``_json_object`` gives them."""
    take = parser._json_object
    if not isinstance(out, ParsedPoints) or len(objects) < MIN_RUN:
        for obj in objects:
            take(obj, out)
        return
    shapes = list(map(tuple, objects))
    edges = [0, *compress(range(1, len(shapes)), map(ne, shapes[1:], shapes[:-1])), len(shapes)]
    for a, b in zip(edges, edges[1:]):
        run = objects[a:b]
        if b - a < MIN_RUN or not _block(parser, shapes[a], run, out):
            for obj in run:
                take(obj, out)


def _block(
    parser: LineParser, shape: Tuple[str, ...], objects: List[Dict[str, Any]], out: ParsedPoints
) -> bool:
    """A run of one shape as a block; False, having done nothing, when an object of it may
    not follow the block's rules (the reference then reads each)."""
    step_key = next((k for k in STEP_KEYS if k in shape), None)
    if step_key is None:
        return False  # points at the last step seen: not a block's
    col = list(map(itemgetter(step_key), objects))
    if not set(map(type, col)) <= _NUMBERS:
        return False  # a string or bool step: the reference looks at the next step key
    try:
        as_float = list(map(float, col))
    except OverflowError:
        return False
    if any(map(isnan, as_float)) or not -MAX_STEP <= min(as_float) <= max(as_float) <= MAX_STEP:
        return False  # as_step refuses it: that object gives nothing
    steps = list(map(int, as_float))  # as_step: int(float(value))
    keys, columns = [], []
    for name in shape:
        if name in _STEP_KEY_SET:
            continue
        values = list(map(itemgetter(name), objects))
        kinds = set(map(type, values))
        if kinds <= _NUMBERS:
            try:
                columns.append(list(map(float, values)))
            except OverflowError:
                return False  # an integer too large for a float: that value is skipped
            keys.append(name)
        elif kinds & _NUMBERS:
            return False  # a number in some objects only
        # else: never a number (text, bools, lists): never a point
    if keys:
        out.block(tuple(keys), steps, columns)
    parser.last_step = steps[-1]
    return True


# Diffusion Policy's logs.json.txt: a JSON object per line. The lines that are one object and
# nothing else (`{` first, `}` last) are decoded by json's C scanner in one C loop; each
# object then goes through the parser's own rules (MetricParser._json_object).
_JSON_LINE = re.compile(r"(?:(\{[^\n]*\})|[^\n]*)\n")
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # json.loads without its frames


def parse_json_lines(parser: LineParser, lines: Sequence[str], out: _Out) -> bool:
    """``parse_lines`` for ``dp`` and ``json``; False, having done nothing, when the chunk
    holds a line the decoder refuses (the reference then reads each line)."""
    # No colour-code check: an escape character makes a line that starts with `{` bad JSON
    # (the chunk goes line by line), and a line that starts with one is not a candidate.
    text = "\n".join(lines)
    if (text.count("\n{") + text.startswith("{")) * 2 < len(lines):
        return False  # mostly other lines: see fastscan._sparse
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            found = _JSON_LINE.findall(text + "\n")
            objects = list(filter(None, found))
            # A StopIteration from the scanner (no value) ends the map early: counted below.
            scanned = list(map(_SCAN, objects, repeat(0)))
        except (ValueError, RecursionError, MemoryError):
            return False
        if len(found) != len(lines) or not objects or len(scanned) != len(objects):
            return False
        if list(map(itemgetter(1), scanned)) != list(map(len, objects)):
            return False  # `{} {}`: json.loads refuses what follows the first object
        decoded = iter(list(map(itemgetter(0), scanned)))
        one = parser._parse_one
        run: List[Any] = []  # consecutive objects: runs of one shape go in as columns
        for line, obj in zip(lines, found):
            if obj:
                run.append(next(decoded))
            else:
                if run:
                    take_objects(parser, run, out)
                    run = []
                one(line, out)
        if run:
            take_objects(parser, run, out)
    finally:
        if collecting:
            gc.enable()
    return True
