"""The ``local`` backend: a subprocess in the agent's workspace directory.

It is NOT isolated: commands run as the current user with the host's network and
file system.  The engine and the UI say so clearly whenever it is in use.
"""

from __future__ import annotations

import asyncio
import os
import signal

from sandboxes import paths
from sandboxes.base import (
    TIMEOUT_EXIT_CODE,
    ExecResult,
    OutputCallback,
    OutputCollector,
    Sandbox,
    SandboxSpec,
)

READ_CHUNK = 64 * 1024


class LocalSandbox(Sandbox):
    kind = "local"

    @property
    def isolated(self) -> bool:
        return False

    async def start(self) -> None:
        self.spec.workspace.mkdir(parents=True, exist_ok=True)

    async def exec(
        self, command: str, timeout: float, on_output: OutputCallback | None = None
    ) -> ExecResult:
        env = command_env(self.spec)
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            cwd=self.spec.workspace,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so we can kill the tree
            env=env,
        )
        collector = OutputCollector(self.spec.max_output_bytes)
        pump = asyncio.ensure_future(self._pump(proc, collector, on_output))
        try:
            # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a cancel
            # that lands together with the end of the output (gh-86296)
            done, _ = await asyncio.wait({pump}, timeout=timeout)
        except asyncio.CancelledError:
            _kill_group(proc.pid)
            await _drain(pump)
            await proc.wait()
            raise
        timed_out = not done
        if timed_out:
            _kill_group(proc.pid)
            await _drain(pump)
        exit_code = await proc.wait()
        if timed_out:
            exit_code = TIMEOUT_EXIT_CODE
        return ExecResult(exit_code, collector.text(), collector.truncated, timed_out)

    @staticmethod
    async def _pump(proc, collector: OutputCollector, on_output: OutputCallback | None) -> None:
        assert proc.stdout is not None
        while True:
            data = await proc.stdout.read(READ_CHUNK)
            if not data:
                break
            collector.add(data)
            if on_output is not None:
                await on_output(data.decode("utf-8", "replace"))
        _kill_group(proc.pid)  # leftovers in the background die with the command

    async def read_file(self, path: str) -> str:
        return await asyncio.to_thread(paths.read_text, self.spec.workspace, path)

    async def write_file(self, path: str, content: str) -> None:
        await asyncio.to_thread(paths.write_text, self.spec.workspace, path, content)

    async def stop(self) -> None:
        return None


#: host variables every local command gets; anything else only through `pass_env`
BASE_ENV = ("PATH", "HOME", "LANG")


def command_env(spec: SandboxSpec) -> dict[str, str]:
    """A minimal environment: never the engine's own (API keys, tokens, cloud credentials)."""
    env = {name: os.environ[name] for name in BASE_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    return {**env, **spec.env, "AGENTORCH_AGENT": spec.agent_id}


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _drain(task: asyncio.Future) -> None:
    """Let the output reader finish (the process group is dead), at most 5 s."""
    done, _ = await asyncio.wait({task}, timeout=5)
    if not done:
        task.cancel()
    elif not task.cancelled():
        task.exception()  # retrieved: a broken pipe after the kill is expected
