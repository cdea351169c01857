"""A line that is one long run of letters or digits parses in time linear in its length: such a
line in output.log used to hold the watcher's thread for minutes (``_POSTFIX``'s key restarted
at every character of a run, ``_NUMBER`` split a run of digits every way). The bound is a hang
guard, generous on purpose; the same lines at 16 KiB took 1.2 s and 7.9 s before."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rdt_tui.core.metrics import MetricParser

LINES = {
    "letters in a bar": "'Steps: 1/1 [' + 'a' * 262144 + ']'",
    "digits then a letter": "'loss=' + '1' * 262144 + 'x'",
    "digits in a bar": "'Steps: 1/1 [00:01, loss=' + '1' * 262144 + 'x]'",
    "letters and digits in a bar": "'Steps: 1/1 [' + 'a1' * 131072 + '=5]'",
}


@pytest.mark.parametrize("name", sorted(LINES))
def test_a_256_kib_run_is_parsed_at_once(name: str) -> None:
    code = (
        "from rdt_tui.core.metrics import MetricParser\n"
        f"line = {LINES[name]}\n"
        "for fast in (True, False):\n"
        "    MetricParser('auto', fast=fast).parse_lines([line] * 2)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert done.returncode == 0


def test_keys_after_digits_and_numbers_read_as_before() -> None:
    # What the linear patterns must still read: a key after digits or a dot, a number with
    # and without its fraction, a key inside a run only where the run begins.
    parser = MetricParser("auto", fast=False)
    got = parser.parse_lines(
        [
            "Steps: 3/9 [00:01, 1loss=0.5, x.y=2., lr=.5, a-b=1e-3]",
            "Steps: 4/9 [00:01, ü1loss=3]",
            "Steps: 5/9 [00:01, abc=1.2.3, d=4]",
        ]
    )
    assert [(p.name, p.value, p.step) for p in got] == [
        ("loss", 0.5, 3),
        ("x.y", 2.0, 3),
        ("lr", 0.5, 3),
        ("a-b", 0.001, 3),
        ("loss", 3.0, 4),
        ("d", 4.0, 5),
    ]
