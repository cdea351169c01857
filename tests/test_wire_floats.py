"""The one NaN/Inf pair of the wire: what the agent encodes, the console decodes to the same
float, through real JSON framing; and the copies it replaced now go through it."""

import json
import math
from array import array

from rdt_tui.agent.daemon import json_safe
from rdt_tui.agent.metricstore import _finite_list
from rdt_tui.core.compare import cell
from rdt_tui.protocol import wire

SPECIALS = [float("nan"), float("inf"), float("-inf")]


def test_encode_spells_non_finite_as_text_and_keeps_finite() -> None:
    assert [wire.encode_float(v) for v in SPECIALS] == ["nan", "inf", "-inf"]
    assert wire.encode_float(0.25) == 0.25
    assert wire.encode_float(-1e308) == -1e308


def test_round_trip_through_the_framing() -> None:
    values = [0.5, *SPECIALS, 1e-300, -2.0]
    line = wire.encode({"id": "1", "ok": True, "result": wire.encode_floats(values)})
    msg = wire.decode_line(line)
    assert msg is not None
    back = wire.decode_floats(msg["result"])
    assert all(isinstance(v, float) for v in back)
    assert math.isnan(back[1])
    assert back[:1] + back[2:] == values[:1] + values[2:]


def test_a_finite_column_is_copied_as_it_is() -> None:
    # The fast path: a sum that overflows to inf is not mistaken for a NaN in the values.
    big = [1e308, 1e308]
    assert wire.encode_floats(big) == big
    assert wire.encode_floats([1.0, 2.0]) == [1.0, 2.0]


def test_json_ints_decode_to_floats() -> None:
    assert wire.decode_floats([1, "2.5", "nan"])[:2] == [1.0, 2.5]


def test_every_encoder_spells_the_same_text() -> None:
    """The agent's store, the daemon's fallback and the CLI's CSV cells agree with the pair."""
    col = array("d", [1.0, *SPECIALS])
    assert _finite_list(col) == [1.0, "nan", "inf", "-inf"]
    assert json_safe({"a": SPECIALS}) == {"a": ["nan", "inf", "-inf"]}
    assert [cell(v) for v in [*SPECIALS, None, 0.5]] == ["nan", "inf", "-inf", "", "0.5"]
    # and what they write is valid JSON (no NaN token)
    json.loads(json.dumps(_finite_list(col), allow_nan=False))
