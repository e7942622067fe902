"""The scripted brain: plays a fixed list of tool calls through the normal loop.

Used by the offline demo, the tests and the benchmarks.  A tool error does not
stop it: the next step is played anyway, as the engine-core issue asks.  One
exception, for a `propose_plan` step marked `revise_on_reject: true` (the demo's):
after the person rejected that plan, the agent does not go on with the plan's work
(a step that needs an approved plan): it proposes the plan again, revised by the
feedback, until one is approved.
"""

from __future__ import annotations

from collections import deque

from engine.brains.base import Brain, ToolCall, ToolResult
from engine.config import ScriptStep

REVISION = "Address the feedback: "
KEEP_RESULTS = 256


class ScriptedBrain(Brain):
    def __init__(self, agent_id: str, script: list[ScriptStep], start_at: int = 0) -> None:
        self.agent_id = agent_id
        self.script = script
        self.position = start_at
        #: the newest results (for tests and a look in a debugger), never the whole run's
        self.results: deque[ToolResult] = deque(maxlen=KEEP_RESULTS)
        self._plan: list[str] = []  # the steps of the last plan proposed (if it revises)
        self._rejected: str | None = None  # feedback on it, while it stands rejected
        self._revisions = 0
        self._firing = 0  # the schedule's firing being played (0: not scheduled)

    async def next_calls(self, results: list[ToolResult]) -> list[ToolCall]:
        from engine.toolbox import PLAN_FREE_TOOLS

        self.results.extend(results)
        for result in results:
            if result.name == "propose_plan" and isinstance(result.content, dict):
                approved = result.content.get("approved")
                self._rejected = None if approved or approved is None else \
                    str(result.content.get("feedback") or "")
        if self.position >= len(self.script):
            return []
        step = self.script[self.position]
        if self._rejected is not None and self._plan and (
                step.tool not in PLAN_FREE_TOOLS or step.tool == "finish"):
            return [self._revised_plan()]
        self.position += 1
        if step.tool == "propose_plan":
            revises = step.revise_on_reject
            self._plan = [str(s) for s in step.args.get("steps") or []] if revises else []
        prefix = f"{self.agent_id}-f{self._firing}" if self._firing else self.agent_id
        return [ToolCall(f"{prefix}-{self.position}", step.tool, dict(step.args))]

    def new_firing(self, firing: int, start_at: int = 0) -> None:
        """Each firing of a schedule plays the script from the top (or from where a
        restart left this firing); call ids name the firing, so they never repeat."""
        self.position = start_at
        self._firing = firing
        self._rejected = None

    def _revised_plan(self) -> ToolCall:
        feedback, self._rejected = self._rejected, None
        self._plan = [s for s in self._plan if not s.startswith(REVISION)]
        self._plan.append(REVISION + (feedback or "(none given)"))
        self._revisions += 1
        return ToolCall(f"{self.agent_id}-{self.position}-revised-{self._revisions}",
                        "propose_plan", {"steps": list(self._plan)})
