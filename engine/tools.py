"""The tools agents call: one definition (name, description, JSON Schema) each.

The definitions are what a model sees; the handlers live in engine/toolbox.py.
"""

from __future__ import annotations

import math

from engine.brains.base import ToolSpec
from engine.workflow.specs import WORKFLOW_SPECS


def _obj(props: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


_STR = {"type": "string"}
#: a timeout: positive, finite, at most a day
_SECONDS = {"type": "number", "exclusiveMinimum": 0, "maximum": 86_400}

TOOL_SPECS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in [
        ToolSpec("run_command",
                 "Run a shell command (sh -c) in your sandbox, working directory /workspace. "
                 "Returns exit_code, output (stdout+stderr, capped), truncated and timed_out. "
                 "A command past its timeout is killed and returns exit code 124.",
                 _obj({"command": {**_STR, "description": "The shell command."},
                       "timeout": {**_SECONDS,
                                   "description": "Seconds before the command is killed."}},
                      ["command"])),
        ToolSpec("read_file", "Read a UTF-8 text file from your workspace (relative path).",
                 _obj({"path": _STR}, ["path"])),
        ToolSpec("write_file",
                 "Write (create or replace) a UTF-8 text file in your workspace (relative path).",
                 _obj({"path": _STR, "content": _STR}, ["path", "content"])),
        ToolSpec("send_message",
                 "Send a message to another agent (`to`: an agent id, or `all` to broadcast to "
                 "everyone you may talk to). With wait_reply=true you wait for the recipient's "
                 "reply and get it as the result; otherwise it returns at once.",
                 _obj({"to": _STR, "text": _STR, "wait_reply": {"type": "boolean"}},
                      ["to", "text"])),
        ToolSpec("wait_for_message",
                 "Wait for the next message in your inbox; returns {id, from, text, kind}.",
                 _obj({"timeout": _SECONDS}, [])),
        ToolSpec("reply",
                 "Reply to a message (default: the last request you received), once. A request can "
                 "always be answered; another message only if you may message its sender.",
                 _obj({"text": _STR, "message_id": _STR}, ["text"])),
        ToolSpec("ask_user",
                 "Ask the person a question and wait for the answer. Offer `options` when the "
                 "answer is a choice.",
                 _obj({"question": _STR, "options": {"type": "array", "items": _STR}},
                      ["question"])),
        ToolSpec("request_debug",
                 "Ask the person for help when you are stuck; waits for their answer "
                 "(with `timeout`, at most that many seconds, then you go on without one).",
                 _obj({"text": _STR, "timeout": _SECONDS},
                      ["text"])),
        ToolSpec("report_progress",
                 "Tell the person how the work is going (does not wait).",
                 _obj({"text": _STR}, ["text"])),
        ToolSpec("propose_plan",
                 "Propose the steps you intend to take and wait for the person's approval. "
                 "Returns approved (with the possibly edited steps) or the person's feedback.",
                 _obj({"steps": {"type": "array", "items": _STR, "minItems": 1}}, ["steps"])),
        ToolSpec("update_memory",
                 "Append a note to your memory file; you will read it at your next start.",
                 _obj({"text": _STR}, ["text"])),
        ToolSpec("update_shared_context",
                 "Replace the team's shared context, one document every agent sees (keep "
                 "decisions, conventions and who does what there). Pass the whole new text: "
                 "read it first with get_shared_context. Returns the new version.",
                 _obj({"text": _STR}, ["text"])),
        ToolSpec("get_shared_context",
                 "Read the team's shared context: {version, text, by}.",
                 _obj({}, [])),
        ToolSpec("claim",
                 "Claim a piece of work (`key`, e.g. `issue-42`) for `ttl` seconds (default "
                 "900) so no other agent does it too. Returns claimed=true (again from you: "
                 "renewed), or claimed=false with the agent that holds it and when it expires.",
                 _obj({"key": _STR, "ttl": _SECONDS}, ["key"])),
        ToolSpec("finish", "End your work with a short summary of what you did.",
                 _obj({"summary": _STR}, ["summary"])),
        *WORKFLOW_SPECS,
    ]
}


def specs_for(allowed: list[str]) -> list[ToolSpec]:
    return [TOOL_SPECS[name] for name in allowed if name in TOOL_SPECS]


def check_args(spec: ToolSpec, args: object) -> str | None:
    """A small JSON-schema check of a call's arguments; the problem or None."""
    if not isinstance(args, dict):
        return f"{spec.name}: arguments must be an object"
    schema = spec.input_schema
    props = schema["properties"]
    for key in schema.get("required", []):
        if key not in args:
            return f"{spec.name}: missing argument {key!r}"
    for key, value in args.items():
        if key not in props:
            return f"{spec.name}: unknown argument {key!r}; arguments: {', '.join(props)}"
        kind = props[key].get("type")
        ok = {
            "string": isinstance(value, str),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "array": isinstance(value, list),
            "integer": isinstance(value, int) and not isinstance(value, bool),
        }.get(kind, True)
        if not ok:
            return f"{spec.name}: argument {key!r} must be a {kind}"
        if kind == "number" and not (math.isfinite(value)
                                     and 0 < value <= props[key].get("maximum", math.inf)):
            top = props[key].get("maximum")
            return (f"{spec.name}: argument {key!r} must be a positive finite number"
                    + (f", at most {top:,}" if top else ""))
        items = props[key].get("items", {}).get("type", "string") if kind == "array" else None
        if items == "string" and not all(isinstance(x, str) for x in value):
            return f"{spec.name}: argument {key!r} must be a list of strings"
        if items == "object" and not all(isinstance(x, dict) for x in value):
            return f"{spec.name}: argument {key!r} must be a list of objects"
        if "enum" in props[key] and value not in props[key]["enum"]:
            return f"{spec.name}: argument {key!r} must be one of {', '.join(props[key]['enum'])}"
    return None
