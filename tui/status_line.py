"""The status bar's text: the run's state, its agents' counts, cost and run id always
fit; the brand, the team name, the backend and the token count give way first.

Pure functions of the run state (no Textual), tried from the widest form to the
narrowest until one fits the width in terminal cells (Rich's `cell_len`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from tui.presentation import cost_text, fold, tokens_text
from tui.safe_text import safe_text
from tui.state import RunState

SEP = (" │ ", "dim")


@dataclass(frozen=True)
class Form:
    """How much of the status line to show."""

    brand: bool = True
    team: int = 40  # cells of team name (0: none)
    backend: str = "long"  # long | short (only LOCAL) | none
    counts: str = "long"  # long | short
    tokens: bool = True
    run_label: bool = True
    state_label: bool = True  # "run finished" rather than "finished"


FORMS = (
    Form(),
    Form(brand=False, team=24),
    Form(brand=False, team=16, counts="short"),
    Form(brand=False, team=16, counts="short", tokens=False),
    Form(brand=False, team=12, counts="short", tokens=False, backend="short"),
    Form(brand=False, team=8, counts="short", tokens=False, backend="short", run_label=False),
    Form(brand=False, team=0, counts="short", tokens=False, backend="short", run_label=False),
    Form(brand=False, team=0, counts="short", tokens=False, backend="short", run_label=False,
         state_label=False),
)

#: count key -> (symbol, long label, style when non-zero)
COUNTS = (("active", "▶", "active", "green"), ("idle", "☾", "idle", "cyan"),
          ("done", "✔", "done", "green"),
          ("failed", "✖", "failed", "bold red"), ("cancelled", "⊘", "cancelled", "red"),
          ("stopped", "■", "stopped", "yellow"))
ALWAYS_SHOWN = ("active", "done", "failed")


def run_counts_text(state: RunState, short: bool = False) -> Text:
    c = state.counts()
    out = Text()
    for key, symbol, label, style in COUNTS:
        if not c[key] and (key not in ALWAYS_SHOWN or key == "active" and state.finished):
            continue
        if out:
            out.append(" ")
        text = f"{symbol}{c[key]}" if short else f"{symbol} {c[key]} {label}"
        out.append(text, style=style if c[key] else "dim")
    return out


def run_status_text(state: RunState, label: bool = True) -> Text:
    if state.run_status == "starting":
        return Text("starting…", style="cyan")
    if state.run_status == "running":
        return Text("running", style="bold green")
    style = "bold green" if state.run_status == "finished" else "bold red"
    return safe_text(f"run {state.run_status}" if label else state.run_status, style=style)


def _backend_text(state: RunState, form: str) -> Text | None:
    if state.unsandboxed:
        text = " ▲ LOCAL · UNSANDBOXED " if form == "long" else "▲ LOCAL"
        return Text(text, style="bold white on red")
    if form != "long":
        return None
    backends = {a.backend for a in state.agents.values() if a.backend}
    return Text(", ".join(sorted(backends)) or "…", style="green")


def _line(state: RunState, form: Form) -> Text:
    head = Text(" agentorch ", style="bold reverse") if form.brand else Text()
    parts: list[Text] = []
    if form.team:
        parts.append(safe_text(fold(state.team, form.team), "bold"))
    backend = _backend_text(state, form.backend)
    if backend is not None:
        parts.append(backend)
    parts.append(run_status_text(state, form.state_label))
    parts.append(run_counts_text(state, short=form.counts == "short"))
    money = Text(cost_text(state.team_cost))
    if form.tokens:
        money = Text.assemble(f"{tokens_text(state.team_tokens)} tok ", money)
    parts.append(money)
    parts.append(safe_text(f"run {state.run_id}" if form.run_label else state.run_id, "dim"))
    if form.brand:
        head.append(" ")
    head.append_text(Text(SEP[0], style=SEP[1]).join(parts))
    return head


def status_bar_text(state: RunState, width: int = 120) -> Text:
    """The one-line header in at most ``width`` cells: the widest form that fits."""
    line = _line(state, FORMS[-1])
    for form in FORMS:
        candidate = _line(state, form)
        if candidate.cell_len <= width:
            line = candidate
            break
    line.no_wrap = True
    line.overflow = "ellipsis"
    return line
