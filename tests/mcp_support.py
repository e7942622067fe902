"""Talking MCP to an agent's socket with the official SDK's own client (tests)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


@contextlib.asynccontextmanager
async def agent_session(path: str | Path) -> AsyncIterator[ClientSession]:
    """An initialized MCP session over the Unix socket at ``path``."""
    transport = httpx2.AsyncHTTPTransport(uds=str(path))
    async with httpx2.AsyncClient(transport=transport, timeout=60) as http, \
            streamable_http_client("http://agent/mcp", http_client=http) as streams, \
            ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        yield session


def content_of(result: Any) -> Any:
    """A tool result's JSON content (every agentorch tool answers one JSON text)."""
    text = result.content[0].text
    try:
        return json.loads(text)
    except ValueError:
        return text
