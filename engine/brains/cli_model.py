"""A CLI agent's route to its model API.

By default the engine's model socket (engine/brains/model_socket.py): the real key is
added outside the sandbox and every answer is metered into the budgets there.  The
only other way is the team file passing the key into the sandbox (``pass_env: [KEY]``):
then the CLI talks to the API itself, and a warning on screen says the key is readable
by everything the agent runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.brains.base import BrainContext, BrainError
from engine.brains.model_api import ModelApi
from engine.brains.model_socket import ModelSocket
from engine.config import AgentConfig


async def open_model_socket(ctx: BrainContext, agent: AgentConfig, api: ModelApi, *,
                            key_env: str, base_url_env: str, path: Path, label: str,
                            tcp: bool = False, mode: int = 0o600) -> ModelSocket | None:
    """The agent's model socket, listening (None: the key is passed in with pass_env).

    ``tcp``: on a loopback port instead of the Unix socket ``path`` (a CLI that speaks
    only TCP, on the LOCAL backend).  Raises BrainError when the key is not set."""
    if key_env in (agent.pass_env or []):
        await ctx.emit(ev.NOTICE, level="warning", text=(
            f"{ctx.agent_id}: {key_env} is passed into its sandbox (pass_env): the key is "
            "readable by everything the agent runs"))
        return None
    key = os.environ.get(key_env)
    if not key:
        raise BrainError(f"{key_env} is not set, and the {label} agent {ctx.agent_id} needs "
                         f"it: export {key_env}=<your {api.vendor} API key>")
    socket = ModelSocket(str(path), ctx.record_usage, api_key=key, api=api, mode=mode,
                         upstream=os.environ.get(base_url_env) or None,
                         owner=sandbox_owner(ctx))
    if tcp:
        await socket.start_tcp()
    else:
        await socket.start()
    return socket


def sandbox_owner(ctx: Any) -> tuple[int, int] | None:
    """The sandbox user's uid and gid (``uid:gid``), when the sandbox says."""
    user = getattr(getattr(ctx, "sandbox", None), "user", None)
    if isinstance(user, str) and ":" in user:
        uid, _, gid = user.partition(":")
        if uid.isdigit() and gid.isdigit():
            return int(uid), int(gid)
    return None
