"""Messages between agents (and the person): topology, inboxes, sync replies.

Replies: a message gets at most one reply.  A request (``wait_reply``) may be answered
whatever the topology; any other message (a notify, a broadcast, a reply) only if the
replier may message its sender (``direct_communication``); a message from the person may
be answered whatever the topology (once, like any).  So an agent that may message nobody
cannot talk through replies.

Bounds (`limits:` in the team file): a message is at most ``message_bytes`` of UTF-8, and
at most ``inbox_messages`` may wait unread in one inbox; past either, the send fails with
an error the sender sees and nothing is recorded.  A reply that a sync sender is waiting
for goes straight to it, so it never counts against a full inbox.  The log of sent
messages keeps no bodies (the store has them).
"""

from __future__ import annotations

import asyncio
import collections
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine import events as ev
from engine.brains.base import InboxMessage
from engine.config import ALL
from engine.timeouts import within

if TYPE_CHECKING:
    from engine.run import Engine

USER = "user"
REQUEST, REPLY, NOTIFY, BROADCAST = "request", "reply", "notify", "broadcast"


class MessageError(Exception):
    """A message that cannot be sent (tool error text)."""


@dataclass(slots=True)  # one per message, on the hot path: slots, not frozen
class Envelope:
    id: str
    sender: str
    to: str  # recipient id, or "all" for a broadcast
    recipients: tuple[str, ...]
    kind: str
    body: str
    reply_to: str | None
    ts: float
    call_id: str | None = None  # the tool call that sent it (for resume)


class Inbox:
    def __init__(self) -> None:
        self.items: collections.deque[InboxMessage] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.last_request: InboxMessage | None = None

    def put(self, msg: InboxMessage) -> None:
        self.items.append(msg)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def take_all(self) -> list[InboxMessage]:
        out = list(self.items)
        self.items.clear()
        return out

    def take_upto(self, count: int, max_bytes: int) -> list[InboxMessage]:
        """The oldest messages, at most ``count`` and ``max_bytes`` (at least one)."""
        out: list[InboxMessage] = []
        size = 0
        while self.items and len(out) < count:
            size += utf8_size(self.items[0].text)
            if out and size > max_bytes:
                break
            out.append(self.items.popleft())
        return out

    async def get(self, timeout: float | None) -> InboxMessage | None:
        """The next message, or None after ``timeout`` seconds without one."""
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while not self.items:
            # a bare future (not a coroutine) keeps wait_for from spawning a task
            self._waiter = asyncio.get_running_loop().create_future()
            left = None if deadline is None else deadline - asyncio.get_running_loop().time()
            if left is not None and left <= 0:
                return None
            try:
                await within(self._waiter, left)
            except TimeoutError:
                return None
            finally:
                self._waiter = None
        return self.items.popleft()


class PostOffice:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.inboxes: dict[str, Inbox] = {a: Inbox() for a in engine.team.agent_ids}
        self._waiting: dict[str, asyncio.Future[InboxMessage]] = {}
        self._counter = 0
        self.log: dict[str, Envelope] = {}  # every message of the run, by id
        self.replied: dict[str, str] = {}  # message id -> the id of its one reply
        team = engine.team
        self._allowed = {a.id: team.recipients_of(a) for a in team.agents}
        self._allowed[USER] = list(team.agent_ids)
        self._ids = frozenset(team.agent_ids)

    def next_id(self) -> str:
        self._counter += 1
        return f"m{self._counter}"

    def allowed(self, sender: str) -> list[str]:
        return self._allowed[sender]

    async def send(self, sender: str, to: str, body: str, kind: str = NOTIFY,
                   reply_to: str | None = None) -> Envelope:
        if not isinstance(body, str) or not body.strip():
            raise MessageError("the message text is empty")
        limit = self.engine.team.limits.message_bytes
        if len(body) > limit or (len(body) * 4 > limit and utf8_size(body) > limit):
            raise MessageError(f"the message is {utf8_size(body):,} bytes; the limit is "
                               f"{limit:,} bytes (limits.message_bytes). Write it to a file "
                               "and send the path")
        if kind == REPLY:
            self._check_reply(sender, to, reply_to)
        recipients = self._recipients(sender, to, kind)
        if not (kind == REPLY and reply_to in self._waiting):
            self._check_room(recipients)
        env = Envelope(self.next_id(), sender, to, tuple(recipients),
                       BROADCAST if to == ALL else kind, body, reply_to, self.engine.now())
        self.remember(env)
        for r in recipients:
            self.engine.store.execute(
                "INSERT OR REPLACE INTO messages VALUES (?,?,?,?,?,?,?,?,?)",
                (self.engine.run_id, env.id, sender, r, env.kind, body, reply_to, env.ts,
                 "queued"))
        rt = self.engine.agents.get(sender)
        call_id = rt.current_call_id if rt is not None else None
        await self.engine.emit(ev.MESSAGE, sender if sender != USER else None,
                               id=env.id, call_id=call_id, **{"from": sender}, to=to,
                               recipients=list(recipients), kind=env.kind, text=body,
                               reply_to=reply_to)
        for r in recipients:
            self._deliver(r, env)
        return env

    def _check_reply(self, sender: str, to: str, reply_to: str | None) -> None:
        """One reply per message; only a request is answered against the topology."""
        target = self.log.get(reply_to or "")
        if target is None or sender not in target.recipients or target.sender != to:
            raise MessageError(f"no message {reply_to!r} from {to} was sent to {sender}")
        if target.id in self.replied:
            raise MessageError(f"{target.id} was already answered ({self.replied[target.id]}); "
                               "a message gets one reply")
        if target.kind != REQUEST and to != USER and to not in self.allowed(sender):
            raise MessageError(f"{target.id} is a {target.kind}, not a request, and {sender} "
                               f"may not message {to} (direct_communication); only a request "
                               "can be answered against the topology")

    def _check_room(self, recipients: list[str]) -> None:
        limit = self.engine.team.limits.inbox_messages
        full = [r for r in recipients if len(self.inboxes[r].items) >= limit]
        if full:
            who = ", ".join(full)
            raise MessageError(
                f"the inbox of {who} is full ({limit} unread messages, limits.inbox_messages); "
                f"nothing was sent. Send again once {who} has read its messages (e.g. wait "
                "for an answer with wait_for_message)")

    def remember(self, env: Envelope) -> None:
        """Keep what replies need to know of ``env`` (never its body) for the run."""
        self.log.setdefault(env.id, Envelope(env.id, env.sender, env.to, env.recipients,
                                             env.kind, "", env.reply_to, env.ts))
        if env.kind == REPLY and env.reply_to is not None:
            self.replied.setdefault(env.reply_to, env.id)

    def _recipients(self, sender: str, to: str, kind: str) -> list[str]:
        team = self.engine.team
        if kind == REPLY:
            if to == USER or to in self._ids:
                return [] if to == USER else [to]
            raise MessageError(f"unknown recipient {to!r}")
        allowed = self.allowed(sender)
        if to == ALL:
            if not allowed:
                raise MessageError("this agent may not message anyone (direct_communication "
                                   "is empty), so a broadcast reaches nobody")
            return allowed
        if to not in self._ids:
            raise MessageError(f"unknown agent {to!r}; agents in the team: {', '.join(team.agent_ids)}")
        if to not in allowed:
            names = ", ".join(allowed) if allowed else "nobody"
            raise MessageError(f"{sender} may not message {to} (direct_communication); "
                               f"allowed recipients: {names}")
        return [to]

    def _deliver(self, recipient: str, env: Envelope) -> None:
        msg = InboxMessage(env.id, env.sender, env.body, env.kind, env.reply_to)
        if env.kind == REPLY and env.reply_to in self._waiting:
            fut = self._waiting.pop(env.reply_to)
            if not fut.done():
                fut.set_result(msg)
                self.mark_delivered(recipient, [msg])
                return
        self.inboxes[recipient].put(msg)

    def consume(self, agent: str, msgs: list[InboxMessage]) -> None:
        """``agent`` has taken ``msgs`` from its inbox: record it, remember the last request."""
        self.mark_delivered(agent, msgs)
        for m in msgs:
            if m.kind == REQUEST:
                self.inboxes[agent].last_request = m

    def mark_delivered(self, agent: str, msgs: list[InboxMessage]) -> None:
        """Record that ``agent`` consumed ``msgs``: committed with its next tool result."""
        rt = self.engine.agents.get(agent)
        for m in msgs:
            stmt = ("UPDATE messages SET state='delivered' WHERE run_id=? AND id=? AND recipient=?",
                    (self.engine.run_id, m.id, agent))
            if rt is not None:
                rt.pending_sql.append(stmt)
            else:
                self.engine.store.execute(*stmt)

    def expect_reply(self, waiter: str, request_id: str) -> asyncio.Future[InboxMessage]:
        fut: asyncio.Future[InboxMessage] = asyncio.get_running_loop().create_future()
        inbox = self.inboxes[waiter]
        for msg in list(inbox.items):  # the reply may already be there (after a restart)
            if msg.kind == REPLY and msg.reply_to == request_id:
                inbox.items.remove(msg)
                self.mark_delivered(waiter, [msg])
                fut.set_result(msg)
                return fut
        self._waiting[request_id] = fut
        return fut

    def forget_reply(self, request_id: str) -> None:
        self._waiting.pop(request_id, None)

    def restore_inbox(self, agent: str, msg: InboxMessage) -> None:
        self.inboxes[agent].put(msg)

    def restore_counter(self, last: int) -> None:
        self._counter = max(self._counter, last)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def message_json(msg: InboxMessage) -> str:
    return json.dumps(msg.as_dict())
