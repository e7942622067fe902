"""API problems a person can fix, as one clear sentence each.

Transient errors (408/409/429/5xx/529, connection drops) are retried by the SDK itself
(``max_retries``); what reaches these functions is an error that retrying did not fix
or that retrying cannot fix (a bad key, a bad request, a spending limit).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config import TeamConfig

#: error types sent inside a stream (``event: error``) that a new request may fix
TRANSIENT_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error",
                                     "timeout_error"})


def api_key_problem(team: TeamConfig, env: Any = os.environ) -> str | None:
    """A missing API key for the team's Claude agents, as a sentence; None when all is set."""
    claude = [a.id for a in team.agents if a.uses_anthropic_api]
    var = team.anthropic.api_key_env
    if not claude or env.get(var):
        return None
    who = ", ".join(claude)
    return (f"{var} is not set, and the Claude agents ({who}) need it: export {var}=<your "
            "Anthropic API key>, or run the offline demo team with --demo")


def _error_body(exc: Any) -> tuple[str, str, str]:
    """(error type, message, details error_code) from an APIStatusError's body."""
    body = getattr(exc, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return "", str(getattr(exc, "message", "") or exc), ""
    details = err.get("details") if isinstance(err.get("details"), dict) else {}
    return str(err.get("type") or ""), str(err.get("message") or ""), str(
        details.get("error_code") or "")


def stream_error_type(exc: Any) -> str:
    return _error_body(exc)[0]


def is_spending_limit(exc: Any) -> bool:
    kind, message, code = _error_body(exc)
    text = f"{kind} {message} {code}".lower()
    return any(word in text for word in ("spend_limit", "spend limit", "credit balance",
                                          "billing", "usage limit"))


def describe(exc: BaseException, model: str, key_env: str, retries: int) -> str:
    """One sentence: what went wrong with the API and what to do."""
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return f"the Anthropic API did not answer in time (after {retries} retries)"
    if isinstance(exc, anthropic.APIConnectionError):
        return f"cannot reach the Anthropic API (after {retries} retries): {exc}"
    if not isinstance(exc, anthropic.APIStatusError):
        return f"the Anthropic API call failed: {type(exc).__name__}: {exc}"
    status = exc.status_code
    kind, message, _ = _error_body(exc)
    said = f": {message}" if message else ""
    if is_spending_limit(exc):
        return f"the Anthropic account hit a spending limit ({status}){said}; raise it in the console"
    if status == 401:
        return (f"the API key in {key_env} was refused (401 {kind or 'authentication_error'}); "
                f"set a valid key")
    if status == 403:
        return f"the API key may not do this (403){said}"
    if status == 404:
        return f"model {model!r} was not found (404){said}; check `model:` in agents.yaml"
    if status == 400:
        return f"the API refused the request (400 {kind or 'invalid_request_error'}){said}"
    if status == 413:
        return f"the request is too large for the API (413){said}"
    if status == 429:
        return f"rate limited by the API (429) after {retries} retries{said}"
    if status == 529 or kind == "overloaded_error":
        return f"the API is overloaded (529) after {retries} retries{said}"
    return f"the API failed ({status} {kind}) after {retries} retries{said}"
