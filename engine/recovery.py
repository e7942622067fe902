"""What happens to a tool call that was running when the process died.

The guarantee, per tool (also in the README):

* repeated (safe to run twice, or provably not started): ``read_file``,
  ``write_file`` (same content), ``wait_for_message`` (a message is consumed in
  the same transaction as the result that returns it), ``finish``, and any
  call whose side effect was not recorded yet.
* taken back, not repeated (exactly once): ``send_message`` / ``reply`` whose
  message was recorded (a sync request waits for its reply again),
  ``ask_user`` / ``request_debug`` / ``propose_plan`` / ``report_progress`` /
  command approvals whose interrupt was recorded (it is shown again, or its
  answer is used if it was answered).
  A coding CLI's open interrupt is not: its turn died with the engine, so resume closes
  it as stale (engine/resume.py close_stale_interrupts) and the new turn asks again.
* reported as interrupted, not repeated (at most once): ``run_command`` that had
  started; the brain gets the output recorded so far and ``interrupted: true``.
* at least once: ``update_memory`` when the crash fell between the append to
  the file and its event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.brains.base import ToolCall, ToolResult

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.resume import CallFacts

MAX_RECOVERED_OUTPUT = 64 * 1024


async def finish_interrupted_call(agent: AgentRuntime, call: ToolCall) -> ToolResult:
    from engine.toolbox import execute

    facts: CallFacts = agent.unfinished_facts
    agent.unfinished_call = None
    agent.current_call_id = call.id
    try:
        if call.name == "run_command" and facts.command_started:
            output = facts.output[-MAX_RECOVERED_OUTPUT:]
            result = ToolResult(call.id, call.name, {
                "error": "agentorch stopped while this command ran; it was not repeated and "
                         "may have partly run. Check its effects before running it again.",
                "interrupted": True, "exit_code": None, "output": output,
                "truncated": len(facts.output) > MAX_RECOVERED_OUTPUT, "timed_out": False,
            }, is_error=True, interrupted=True)
            await agent.record_result(result)
            return result
        if call.name == "update_memory" and facts.memory_updated:
            result = ToolResult(call.id, call.name, {"appended": len(call.args.get("text", ""))})
            await agent.record_result(result)
            return result
        agent.recovered_interrupt = facts.interrupt
        agent.recovered_message = facts.message
        await agent.emit("tool_call", call_id=call.id, tool=call.name, args=call.args,
                         resumed=True)
        return await agent.execute_and_record(execute, call)
    finally:
        agent.current_call_id = None
        agent.recovered_interrupt = None
        agent.recovered_message = None
