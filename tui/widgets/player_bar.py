"""The replay's player bar: playing or paused, event k of N, the run's time, speed."""

from __future__ import annotations

from textual.widgets import Static

from engine.replay import EventPlayer
from tui.presentation import player_text


class PlayerBar(Static):
    def show(self, player: EventPlayer) -> None:
        self.update(player_text(player.position, player.total, player.current_ts,
                                player.start_ts, player.speed, player.paused))
