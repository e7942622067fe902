"""`agentorch-tui events` and `export`: a run's events as JSON lines (streamed page by
page, any length of run) or as a markdown transcript."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.cli_errors import EXIT_FAILED, EXIT_OK, err
from engine.cli_runs import recorded_run, with_recorded_run


async def _stream_events(run: dict, store, out) -> int:
    """Write a run's events as JSON lines to ``out``, page by page; the count written."""
    from engine.events import Event

    count = 0
    async for rows in store.iter_events(run["id"]):
        out.write("".join(Event.from_row(*row).to_json() + "\n" for row in rows))
        count += len(rows)
    return count


async def cmd_events(db: str, run_id: str) -> int:
    done = await with_recorded_run(db, run_id, lambda run, store: _stream_events(run, store, sys.stdout))
    return EXIT_FAILED if done is None else EXIT_OK


async def _export_jsonl(db: str, run_id: str, output: str | None) -> int:
    """The event log as JSON lines, streamed from the database (any length of run)."""
    async def write(run: dict, store) -> int:
        if not output:
            await _stream_events(run, store, sys.stdout)
            return EXIT_OK
        try:
            with open(output, "w", encoding="utf-8") as fh:
                count = await _stream_events(run, store, fh)
        except OSError as exc:
            err(f"cannot write {output}: {exc.strerror or exc}")
            return EXIT_FAILED
        err(f"wrote {count} events of run {run['id']} to {output}")
        return EXIT_OK

    done = await with_recorded_run(db, run_id, write)
    return EXIT_FAILED if done is None else done


async def cmd_export(db: str, run_id: str, fmt: str, output: str | None) -> int:
    from engine.export import export_markdown

    if fmt == "jsonl":
        return await _export_jsonl(db, run_id, output)
    found = await recorded_run(db, run_id)
    if found is None:
        return EXIT_FAILED
    run, events = found
    text = export_markdown(run, events)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            err(f"cannot write {output}: {exc.strerror or exc}")
            return EXIT_FAILED
        err(f"wrote {len(events)} events of run {run['id']} to {output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK
