"""One agent: an asyncio task that asks its brain for tool calls and runs them."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.brains.base import (
    Brain,
    BrainError,
    InboxMessage,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from engine.config import AgentConfig
from engine.tools import specs_for
from engine.workspaces import CHANGES_FILES
from memory.files import read_memory, read_rules
from memory.text_safety import clean_value
from sandboxes import Sandbox

if TYPE_CHECKING:
    from engine.run import Engine


#: tools with an effect outside the store: their tool_call is committed before they run
DURABLE_START = frozenset({"run_command", "write_file", "update_memory"})


#: tool calls between two turns given to the event loop (see AgentRuntime.checkpoint)
YIELD_EVERY = 4


class AgentFinished(Exception):
    """Raised by the `finish` tool to end the loop."""

    def __init__(self, summary: str) -> None:
        self.summary = summary


class AgentRuntime:
    """Everything about one running agent; also the BrainContext its brain sees."""

    def __init__(self, engine: Engine, config: AgentConfig, sandbox: Sandbox, brain: Brain) -> None:
        self.engine = engine
        self.config = config
        self.agent_id = config.id
        self.sandbox = sandbox
        self.brain = brain
        self.status = ev.PENDING
        self.activity = ""
        self.tool_calls = 0
        self.steps_done = 0  # tool calls whose result was recorded
        self.summary = ""
        self.plan_approved = not config.needs_plan
        self.plan: list[str] = []  # the steps the person approved
        self.written_paths: set[str] = set()  # workspace files write_file wrote this run
        self.tools: list[ToolSpec] = specs_for(config.allowed_tools())
        self.allowed_tool_names = frozenset(config.allowed_tools())
        team = engine.team
        self.roster = engine.roster
        self.allowed_recipients = engine.post.allowed(config.id)
        self.memory_path = team.resolve(config.memory_file)
        self.memory_text = read_memory(self.memory_path)
        self.rules_text = read_rules(team.resolve(config.rules_file))
        self.task: asyncio.Task | None = None
        self._running = asyncio.Event()  # cleared while paused
        self._running.set()
        self._since_yield = 0
        self._status_before_pause = ev.RUNNING
        self._activity_before_pause = ""
        self.resume_results: list[ToolResult] = []
        #: the tool call being run (linked from message/interrupt events, for resume)
        self.current_call_id: str | None = None
        #: store writes that must commit with this agent's next tool_result
        #: (e.g. "message consumed"), so a crash never loses or repeats a message
        self.pending_sql: list[tuple[str, tuple]] = []
        self.stopping = False
        # resume: the call that was running when the process died, and what it
        # had already done (an interrupt raised, a message sent)
        self.unfinished_call: ToolCall | None = None
        self.unfinished_facts = None  # engine.resume.CallFacts of that call
        self.recovered_interrupt = None
        self.recovered_message = None
        #: the result of the `finish` that ended a (scheduled) firing: the next firing's
        #: first turn carries it, so a model's tool_use keeps its tool_result
        self.finish_result: ToolResult | None = None

    # -- BrainContext ------------------------------------------------------------
    async def emit(self, type: str, **data: Any) -> None:
        await self.engine.emit(type, self.agent_id, **data)

    def take_pending_sql(self) -> list[tuple[str, tuple]] | None:
        sql, self.pending_sql = self.pending_sql, []
        return sql or None

    def take_messages(self) -> list[InboxMessage]:
        """The oldest inbox messages, as many as one turn may hold (`limits:`)."""
        limits = self.engine.team.limits
        msgs = self.engine.post.inboxes[self.agent_id].take_upto(
            limits.inbox_per_turn, limits.inbox_bytes_per_turn)
        self.engine.post.consume(self.agent_id, msgs)
        return msgs

    @property
    def messages_waiting(self) -> int:
        """Messages still unread in the inbox."""
        return len(self.engine.post.inboxes[self.agent_id].items)

    async def record_usage(self, usage: Usage, cost: float | None = None) -> None:
        await self.engine.budget.charge(self, usage, cost)

    async def save_conversation(self, messages: list[dict[str, Any]]) -> None:
        # messages taken from the inbox are consumed together with the
        # conversation that holds them
        self.engine.store.execute_group([
            *(self.take_pending_sql() or []),
            ("UPDATE agents SET conversation=? WHERE run_id=? AND id=?",
             (json.dumps(messages), self.engine.run_id, self.agent_id))])

    async def load_conversation(self) -> list[dict[str, Any]] | None:
        rows = await self.engine.store.query(
            "SELECT conversation FROM agents WHERE run_id=? AND id=?",
            (self.engine.run_id, self.agent_id))
        if rows and rows[0][0]:
            return json.loads(rows[0][0])
        return None

    # -- status ----------------------------------------------------------------
    async def set_status(self, status: str, activity: str = "", **extra: Any) -> None:
        if self.paused and status not in ev.TERMINAL_STATUSES and status != ev.PAUSED:
            self._status_before_pause = status
            self._activity_before_pause = activity  # shown again on resume
            return
        self.status = status
        self.activity = activity
        self.engine.store.execute(
            "UPDATE agents SET status=?, steps_done=? WHERE run_id=? AND id=?",
            (status, self.steps_done, self.engine.run_id, self.agent_id))
        await self.emit(ev.AGENT_STATUS, status=status, activity=activity, **extra)

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def finished(self) -> bool:
        return self.status in ev.TERMINAL_STATUSES

    async def ask_person(self, kind: str, prompt: str, activity: str,
                         **extra: Any) -> dict[str, Any]:
        """A blocking interrupt raised by the brain (e.g. an API error: retry or stop)."""
        before = self.status
        await self.set_status(ev.WAITING_USER, activity)
        intr = await self.engine.interrupts.raise_(self.agent_id, kind, prompt, **extra)
        answer = await self.engine.interrupts.wait(intr)
        await self.set_status(before, "")
        return answer

    async def checkpoint(self) -> None:
        """Between tool calls: wait here while paused, else give the loop a turn.

        A tool call can complete without ever suspending (a scripted report_progress),
        so without a turn one agent's flood would starve cancel, pause, the other agents
        and the screen until it ends.  The turn comes every YIELD_EVERY calls: a turn
        at every call cost ~45 % more per step in bench_engine (500 agents whose steps
        never suspend), every 4th call ~4 %, and a command waits for at most 4 calls."""
        if not self._running.is_set():
            await self._running.wait()
        else:
            self._since_yield += 1
            if self._since_yield >= YIELD_EVERY:
                self._since_yield = 0
                await asyncio.sleep(0)

    async def pause(self) -> None:
        if self.finished or self.paused:
            return
        self._status_before_pause = self.status
        self._activity_before_pause = self.activity
        await self.set_status(ev.PAUSED, "paused by you")
        self._running.clear()

    async def resume(self) -> None:
        if not self.paused:
            return
        self._running.set()
        await self.set_status(self._status_before_pause, self._activity_before_pause)

    # -- the loop ------------------------------------------------------------------
    async def run(self) -> None:
        from engine.run import RunAborted

        try:
            from engine.toolbox import execute  # here: a broken install fails the agent loudly

            await self.set_status(ev.STARTING, "starting")
            await self.brain.start(self)
            scheduler = self.engine.scheduler
            scheduled = scheduler is not None and scheduler.owns(self.agent_id)
            if not scheduled or scheduler.in_firing(self.agent_id):
                await self.set_status(ev.PLANNING if not self.plan_approved else ev.RUNNING, "")
            results: list[ToolResult] = list(self.resume_results)
            if self.unfinished_call is not None:
                from engine.recovery import finish_interrupted_call

                results.append(await finish_interrupted_call(self, self.unfinished_call))
            if scheduled:  # wakes at each firing until the run stops (engine/schedules)
                await scheduler.serve(self, results)
                return
            await self._end(ev.DONE, await self.work(execute, results))
        except AgentFinished as fin:
            self.summary = fin.summary
            await self._end(ev.DONE, fin.summary)
        except asyncio.CancelledError:
            await self._end(ev.CANCELLED, "cancelled")
            raise
        except BrainError as exc:
            await self._end(ev.FAILED, str(exc))
        except RunAborted:  # the store failed: the engine stops the run
            pass
        except Exception as exc:  # a bug: keep the run alive, show it loudly
            self.engine.log_exception(self.agent_id, exc)
            await self._end(ev.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            await self.brain.close()

    async def work(self, execute, results: list[ToolResult]) -> str:
        """Tool calls until the brain has none left (returns the summary) or one of them
        is `finish` (raises AgentFinished)."""
        while True:
            await self.checkpoint()
            calls = await self.brain.next_calls(results)
            if not calls:
                summary = self.summary or getattr(self.brain, "summary", "")
                return summary or "nothing more to do"
            results = []
            for call in calls:
                await self.checkpoint()
                results.append(await self._run_call(execute, call))

    async def _run_call(self, execute, call: ToolCall, **extra: Any) -> ToolResult:
        """``extra``: more fields of the tool_call event (``via="mcp"``: the agent's MCP view)."""
        self.tool_calls += 1
        self.current_call_id = call.id
        call.args = clean_value(call.args)  # a model's "\ud800" must not reach a tool
        await self.engine.emit(ev.TOOL_CALL, self.agent_id, call_id=call.id, tool=call.name,
                               args=call.args, **extra)
        if call.name in DURABLE_START:  # recorded as started before it starts
            await self.engine.durable()
        try:
            result = await self.execute_and_record(execute, call)
        finally:
            self.current_call_id = None
        if self.status not in (ev.RUNNING, ev.PLANNING) and not self.paused and not self.finished:
            await self.set_status(ev.RUNNING if self.plan_approved else ev.PLANNING, "")
        return result

    async def execute_and_record(self, execute, call: ToolCall) -> ToolResult:
        """Run ``call`` and record its result (a `finish` is recorded, then ends the loop)."""
        try:
            result = await execute(self, call)
        except AgentFinished as fin:
            self.finish_result = ToolResult(call.id, call.name,
                                            {"finished": True, "summary": fin.summary})
            await self.record_result(self.finish_result)
            raise
        await self.record_result(result)
        return result

    async def record_result(self, result: ToolResult) -> None:
        result.content = clean_value(result.content)  # what the brain and the store get
        self.steps_done += 1
        data: dict[str, Any] = {"call_id": result.call_id, "tool": result.name,
                                "is_error": result.is_error, "result": result.content}
        if result.interrupted:
            data["interrupted"] = True
        await self.engine.emit(ev.TOOL_RESULT, self.agent_id, with_sql=self.take_pending_sql(),
                               **data)
        workspaces = self.engine.workspaces
        if workspaces is not None and result.name in CHANGES_FILES and not result.is_error:
            await workspaces.after_change(self.agent_id, self.sandbox, result.call_id)

    async def _end(self, status: str, reason: str) -> None:
        if self.finished:
            return
        self._running.set()  # a paused agent that ends is no longer paused
        if self.stopping:  # the run stops; the agent can be resumed later
            reason = "run stopped"
        await self.set_status(status, reason, reason=reason)
        if status != ev.DONE and not self.stopping:
            await self.engine.interrupts.withdraw_for(self.agent_id, f"agent {status}")
