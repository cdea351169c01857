"""A line cut at ``max_line`` is skipped up to its terminator, a CRLF counting as one."""

from rdt_tui.core.lines import CUT_MARK, LineSplitter


def test_the_skipped_rest_of_a_cut_line_ends_at_its_crlf_in_one_chunk() -> None:
    s = LineSplitter(0, max_line=4)
    assert s.feed(b"abcdefgh") == ["abcd" + CUT_MARK]
    # The rest of the cut line and its \r\n arrive together: no empty line from the \n.
    assert s.feed(b"ij\r\nok\r\n") == ["ok"]
    assert s.consumed == len(b"abcdefghij\r\nok\r\n")
    assert s.flush() == []
