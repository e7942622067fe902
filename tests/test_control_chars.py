"""The one cleaner of untrusted text: control characters and escape sequences made
visible (engine/control_chars.py), and the TUI's `safe_text` built on it."""

from __future__ import annotations

from rich.text import Text

from engine.control_chars import clean_output, strip_escape_sequences, visible_controls, visible_line
from tui.safe_text import safe_text


def test_escape_sequences_are_shown_not_obeyed() -> None:
    assert visible_controls("\x1b]0;pwned\x07") == "␛]0;pwned␇"
    assert visible_controls("a\x1b[2Jb") == "a␛[2Jb"


def test_every_c0_c1_and_del_control_becomes_visible() -> None:
    controls = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]
                       if c not in (0x09, 0x0A))
    shown = visible_controls(controls)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in shown)
    assert visible_controls("\x9b2J") == "␛[2J"  # 8-bit CSI: its 7-bit form, visible


def test_tab_newline_and_crlf_stay_readable_a_lone_cr_does_not() -> None:
    assert visible_controls("a\tb\r\nc\nd") == "a\tb\nc\nd"
    assert visible_controls("ok\rFAILED") == "ok␍FAILED"


def test_invisible_formatting_characters_are_named() -> None:
    assert visible_controls("abc\u202edcba") == "abc<U+202E>dcba"
    assert visible_controls("zero\u200bwidth\ufeff") == "zero<U+200B>width<U+FEFF>"
    assert visible_controls("bad \ud800 half") == "bad \ufffd half"


def test_plain_text_comes_back_unchanged() -> None:
    text = "list[int] · see [/usr/bin] · [@click=app.quit]x[/] · naïve 日本"
    assert visible_controls(text) is text


def test_command_output_loses_its_colours_and_shows_the_rest() -> None:
    assert strip_escape_sequences("\x1b[1;31mred\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") \
        == "red link"
    assert clean_output("\x1b(Bplain\x1b[>0c\x07") == "plain␇"
    assert clean_output("half \x1b") == "half ␛"


def test_safe_text_is_never_markup() -> None:
    for hostile in ("[/]", "[@click=app.quit]x[/]", "list[int]", "see [/usr/bin]"):
        text = safe_text(hostile, "bold")
        assert isinstance(text, Text)
        assert text.plain == hostile
        assert not text.spans
    assert safe_text("\x1b]0;x\x07").plain == "␛]0;x␇"
    assert safe_text(42).plain == "42"


def test_a_line_to_approve_shows_its_tabs_and_breaks_too() -> None:
    assert visible_line("rm\t-rf\n/\x1b[2J\x9b") == "rm␉-rf␊/␛[2J␛["
