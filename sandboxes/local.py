"""The ``local`` backend: commands in the agent's workspace directory on this host.

It is NOT isolated: commands run as the current user with the host's network and
file system.  The engine and the UI say so clearly whenever it is in use.

Commands run through the same supervisor as in containers, here as a child
process of the engine and a child subreaper (``sandboxes/session.py``): a fresh
``sh`` per command in its own session, the whole tree killed on timeout or
cancel, and whatever a command detached (``setsid``, double forks) is
reparented to the supervisor and killed once no command runs.  Without a C
compiler to build it, commands run as plain subprocesses (their process group
is still killed; detached processes then survive, which the console says once).
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
from sandboxes.session import LocalExecSession, SessionDied, StreamedOutput, run_collected
from sandboxes.supervisor import SupervisorUnavailable, supervisor_path

READ_CHUNK = 64 * 1024
INLINE_WRITE = 256 * 1024


class LocalSandbox(Sandbox):
    kind = "local"

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self._session: LocalExecSession | None = None
        self._session_lock = asyncio.Lock()
        self._fallback: str | None = None
        self._fallback_said = False

    @property
    def isolated(self) -> bool:
        return False

    async def start(self) -> None:
        self.spec.workspace.mkdir(parents=True, exist_ok=True)

    def _command_env(self) -> dict[str, str]:
        return command_env(self.spec)

    async def _ensure_session(self) -> LocalExecSession | None:
        if self._session is not None and self._session.alive:
            return self._session
        async with self._session_lock:
            if self._session is not None and self._session.alive:
                return self._session
            if self._fallback is not None:
                return None
            session = LocalExecSession()
            try:
                await session.open()
            except (SupervisorUnavailable, SessionDied, OSError) as exc:
                await session.close()
                self._fallback = str(exc)
                return None
            self._session = session
            return session

    async def exec(
        self, command: str, timeout: float, on_output: OutputCallback | None = None
    ) -> ExecResult:
        session = await self._ensure_session()
        if session is None:
            return await self._exec_subprocess(command, timeout, on_output)
        out = StreamedOutput(self.spec.max_output_bytes, on_output)
        collector = out.collector
        try:
            done = await session.run(["/bin/sh", "-c", command], out.on_data, env=self._command_env(),
                                     cwd=str(self.spec.workspace), timeout=timeout)
        except SessionDied as exc:
            await out.end(f"\n[agentorch: the command's supervisor stopped ({exc}); "
                          "the command was interrupted]\n")
            return ExecResult(-1, collector.text(), collector.truncated, False, interrupted=True)
        await out.end()
        exit_code = TIMEOUT_EXIT_CODE if done.timed_out else done.code
        return ExecResult(exit_code, collector.text(), collector.truncated, done.timed_out)

    async def run_supervisor(self, args: list[str], stdin: bytes | None = None,
                             timeout: float = 120) -> tuple[int, bytes] | None:
        """The supervisor binary in a helper mode (``--list`` / ``--read``: the workspace
        for checkpoints, sandboxes/supervisor/snapshot.c) through the session: (exit code,
        stdout), or None without one."""
        session = await self._ensure_session()
        if session is None:
            return None
        return await run_collected(session, [str(supervisor_path()), *args], stdin, timeout)

    async def _exec_subprocess(
        self, command: str, timeout: float, on_output: OutputCallback | None
    ) -> ExecResult:
        if not self._fallback_said and on_output is not None:
            self._fallback_said = True
            await on_output(f"[agentorch: no supervisor ({self._fallback}); processes a command "
                            "detaches from its group are not cleaned up]\n")
        env = self._command_env()
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
        elif pump.exception() is not None:  # on_output failed: the command must not outlive it
            _kill_group(proc.pid)
            await proc.wait()
            raise pump.exception()
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

    # File tools run on the loop for small files: a thread hop costs more than the few
    # syscalls (descriptors opened O_NONBLOCK, non-regular files refused), and with
    # hundreds of agents the hops queue behind each other.  Big writes go to a thread.
    async def read_file(self, path: str) -> str:
        return paths.read_text(self.spec.workspace, path)

    async def write_file(self, path: str, content: str) -> None:
        if len(content) <= INLINE_WRITE:
            paths.write_text(self.spec.workspace, path, content)
        else:
            await asyncio.to_thread(paths.write_text, self.spec.workspace, path, content)

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


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
