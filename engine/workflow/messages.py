"""What the workflow tells agents: messages from `workflow`, outside the topology.

A task goes to its assignee, a submission to the reviewer, a plan to the checker and a
verdict to the planner as ordinary inbox messages (wait_for_message picks them up),
recorded like any other; they need no `direct_communication` path.  Each carries tags
(`purpose`, `task_id`, `attempt`) in its `message` event, so a resumed run knows which
were sent and never sends one twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.brains.base import InboxMessage
from engine.messaging import NOTIFY, Envelope
from engine.workflow.board import Task

if TYPE_CHECKING:
    from engine.run import Engine

SENDER = "workflow"


async def send(engine: Engine, to: str, text: str, purpose: str, **tags: Any) -> bool:
    """Deliver ``text`` to ``to`` (False when there is no such agent)."""
    post = engine.post
    inbox = post.inboxes.get(to)
    if inbox is None:
        return False
    limit = engine.team.limits.message_bytes
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        text = text.encode("utf-8", "surrogatepass")[: limit - 200].decode("utf-8", "ignore") \
            + "\n[agentorch: cut to limits.message_bytes]"
    env = Envelope(post.next_id(), SENDER, to, (to,), NOTIFY, text, None, engine.now())
    post.remember(env)
    engine.store.execute("INSERT OR REPLACE INTO messages VALUES (?,?,?,?,?,?,?,?,?)",
                         (engine.run_id, env.id, SENDER, to, NOTIFY, text, None, env.ts,
                          "queued"))
    await engine.emit(ev.MESSAGE, None, id=env.id, call_id=None, to=to, recipients=[to],
                      kind=NOTIFY, text=text, reply_to=None, purpose=purpose,
                      **{"from": SENDER}, **tags)
    inbox.put(InboxMessage(env.id, SENDER, text, NOTIFY))
    return True


def task_text(task: Task, qa_command: str | None) -> str:
    lines = [f"Task {task.task_id} (attempt {task.attempt}): {task.title}", "",
             task.description or "(no description)"]
    if task.acceptance:
        lines += ["", f"Acceptance: {task.acceptance}"]
    if task.feedback:
        lines += ["", f"Feedback on the previous attempt: {task.feedback}"]
    if task.qa_output and task.feedback and task.feedback.startswith("QA"):
        lines += ["", "QA output (its end):", task.qa_output]
    if task.branch:
        lines += ["", f"Your workspace now holds this task's branch {task.branch} (cut from "
                      "the integration branch, with the earlier tasks' results)."]
    if qa_command:
        lines += ["", "After review, the team's QA command runs on a copy of your work."]
    lines += ["", f"When it is done, call submit_task with task_id {task.task_id!r} and a "
                  "short summary."]
    return "\n".join(lines)


def review_text(task: Task, diff: str | None = None) -> str:
    lines = [f"Review task {task.task_id} (attempt {task.attempt}) by {task.assignee}: "
             f"{task.title}", "", task.description or "(no description)"]
    if task.acceptance:
        lines += ["", f"Acceptance: {task.acceptance}"]
    lines += ["", f"The assignee's summary: {task.summary or '(none)'}"]
    if diff:
        lines += ["", "The changes:", diff]
    lines += ["", f"Call review_task with task_id {task.task_id!r}, verdict approve or "
                  "changes, and your feedback."]
    return "\n".join(lines)
