"""Untrusted text (from an agent, a model, a command or a team file) as a rich `Text`.

`safe_text` is the one way such a string reaches a widget: it is never parsed as
markup (so `[/]` cannot crash a screen, `list[int]` stays `list[int]` and
`[@click=app.quit]` is no link), and its control characters are made visible
(engine/control_chars.py), so no escape sequence reaches the terminal.
Widgets that would parse a plain `str` as markup (Static, Label, Button, DataTable
cells, OptionList options, border titles) get this `Text`; toasts go through
`ControlCenter.notify`, which never parses markup.
"""

from __future__ import annotations

from rich.text import Text

from engine.control_chars import visible_controls


def safe_text(text: object, style: str = "") -> Text:
    """``text`` as plain rich `Text` in ``style``: no markup, control characters visible."""
    return Text(visible_controls(text if isinstance(text, str) else str(text)), style=style)

