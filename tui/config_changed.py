"""Before a resumed run opens: the team file changed since it started; ask what to do."""

from __future__ import annotations

from textual.app import App

from tui.screens.confirm import ConfirmScreen

TITLE = "The team file changed"


class ReloadConfigApp(App[bool]):
    """One question: resume with the edited team file, or quit without resuming."""

    CSS_PATH = "app.tcss"

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def on_mount(self) -> None:
        self.push_screen(ConfirmScreen(TITLE, self.text, yes="Resume with the edited file",
                                       no="Quit"), self._answered)

    def _answered(self, yes: bool | None) -> None:
        self.exit(bool(yes))


def ask_reload_config(text: str) -> bool:
    """True when the person chooses to resume with the edited team file."""
    return bool(ReloadConfigApp(text).run())
