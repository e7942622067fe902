"""What a Claude agent reads: its system prompt, first turn, inbox and nudges.

The system prompt is composed once at start (description, responsibilities, rules,
memory, roster, how to use the tools) so it stays byte-identical for the whole run:
it is the cached prefix of every request.
"""

from __future__ import annotations

from engine.brains.base import BrainContext, InboxMessage

DEFAULT_FIRST_TURN = ("Begin your work. Tell the team what you need with send_message, and call "
                      "finish with a summary when your part is done.")

NUDGE = ("You ended your turn without calling a tool, and your work only ends when you call "
         "`finish`. If you are done, call `finish` with a short summary. If you are waiting "
         "for a teammate, call `wait_for_message`. Otherwise go on with your next tool call.")

RESUMED = "The run was resumed after a stop. Go on with your work from where you were."

MORE_WAITING = ("[{count} more messages wait in your inbox; they come with your next turns, "
                "or call wait_for_message to read the next one now]")

CUT_OFF = ("Your reply was cut off at the max_tokens limit ({max_tokens} tokens). Go on, in "
           "smaller steps (e.g. write large files in parts).")

# one line of guidance per tool; only the tools the agent has are mentioned
TOOL_GUIDANCE = {
    "run_command": "`run_command` runs a shell command in your sandbox; your files are in "
                   "/workspace, the working directory.",
    "read_file": "`read_file` / `write_file` work on files in your workspace (relative paths).",
    "send_message": "`send_message` talks to a teammate (`to`: an id, or `all`); with "
                    "wait_reply=true you wait for their reply.",
    "reply": "Messages from teammates or the person appear in your turn as "
             "`[message ID from SENDER (KIND)]`; answer a request with `reply`.",
    "wait_for_message": "When you have nothing to do until someone writes, call "
                        "`wait_for_message`; you wake when a message arrives.",
    "ask_user": "`ask_user` asks the person a question only they can answer; "
                "`request_debug` asks them for help when you are stuck.",
    "report_progress": "`report_progress` tells the person how the work goes, at milestones.",
    "update_memory": "`update_memory` appends a note to your memory file, which you read at "
                     "your next start: keep decisions and lessons there, briefly.",
    "update_shared_context": "The team's shared context (below, when there is one) is one "
                             "document every agent sees; when it changes you get the new "
                             "version in your turn. Change it with `update_shared_context` "
                             "(the whole new text) for what the whole team must know.",
    "finish": "When your part is complete, call `finish` with a short summary. Ending your "
              "turn without a tool call does not end your work.",
}


def system_prompt(ctx: BrainContext, team_name: str, shared_context: str = "") -> str:
    cfg = ctx.config
    role = f", the {cfg.type}," if cfg.type else ""
    parts = [f"You are {ctx.agent_id}{role} one of the AI agents of the team {team_name!r}, "
             "working together under agentorch. You act only through your tools."]
    if cfg.description:
        parts.append(cfg.description.strip())
    if cfg.responsibilities:
        parts.append("## Your responsibilities\n" + "\n".join(f"- {r}" for r in cfg.responsibilities))
    parts.append(_roster(ctx))
    parts.append(_how_to_work(ctx))
    if shared_context:  # the team's document at start; later versions come in turns
        parts.append(shared_context)
    if ctx.rules_text.strip():
        parts.append("## Your rules\n" + ctx.rules_text.strip())
    if ctx.memory_text.strip():
        parts.append("## Your memory (notes from earlier work)\n" + ctx.memory_text.strip())
    return "\n\n".join(parts)


def _roster(ctx: BrainContext) -> str:
    lines = ["## Your team"]
    for peer in ctx.roster:
        me = " (you)" if peer.id == ctx.agent_id else ""
        kind = f" [{peer.type}]" if peer.type else ""
        desc = f": {peer.description}" if peer.description else ""
        lines.append(f"- {peer.id}{kind}{me}{desc}")
    if ctx.allowed_recipients:
        lines.append(f"You may message: {', '.join(ctx.allowed_recipients)}. "
                     "A request can always be answered (once) with `reply`.")
    else:
        lines.append("You may not start conversations with teammates; you may reply to "
                     "requests you receive.")
    return "\n".join(lines)


def _how_to_work(ctx: BrainContext) -> str:
    names = {t.name for t in ctx.tools}
    lines = ["## How you work"]
    lines += [f"- {text}" for tool, text in TOOL_GUIDANCE.items() if tool in names]
    approval = ctx.config.command_approval
    if ctx.config.needs_plan and "propose_plan" in names:
        lines.append("- Before anything else, call `propose_plan` with your steps and follow "
                     "the approved plan; if the person rejects it, re-plan with their feedback. "
                     "Until a plan is approved (also while a new one waits) you cannot run "
                     "commands, write files or memory, or send messages.")
    if approval in ("risky", "always"):
        which = "every command" if approval == "always" else (
            "every command that is not read-only (ls, cat, grep, find, ...) and every write to "
            ".git, CI files or the team's configuration")
        lines.append(f"- The person approves {which} before it runs; a rejected command comes "
                     "back as an error with their reason. Do not try to get around it.")
    lines.append("- Tool errors come back as results with is_error; read them and adapt.")
    return "\n".join(lines)


def first_turn(ctx: BrainContext) -> str:
    return (ctx.config.initial_instructions or "").strip() or DEFAULT_FIRST_TURN


def inbox_text(msg: InboxMessage) -> str:
    hint = " - answer it with `reply`" if msg.kind == "request" else ""
    about = f", replying to {msg.reply_to}" if msg.reply_to else ""
    return f"[message {msg.id} from {msg.sender} ({msg.kind}{about}){hint}]\n{msg.text}"
