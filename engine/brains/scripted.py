"""The scripted brain: plays a fixed list of tool calls through the normal loop.

Used by the offline demo, the tests and the benchmarks.  A tool error does not
stop it: the next step is played anyway, as the engine-core issue asks.
"""

from __future__ import annotations

from engine.brains.base import Brain, ToolCall, ToolResult
from engine.config import ScriptStep


class ScriptedBrain(Brain):
    def __init__(self, agent_id: str, script: list[ScriptStep], start_at: int = 0) -> None:
        self.agent_id = agent_id
        self.script = script
        self.position = start_at
        self.results: list[ToolResult] = []

    async def next_calls(self, results: list[ToolResult]) -> list[ToolCall]:
        self.results.extend(results)
        if self.position >= len(self.script):
            return []
        step = self.script[self.position]
        self.position += 1
        return [ToolCall(f"{self.agent_id}-{self.position}", step.tool, dict(step.args))]
