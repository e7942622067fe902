"""Codex's model route benchmark (measured and printed, not asserted).

    .venv/bin/python benchmarks/bench_codex_route.py [--turns N] [--requests M]

Against the project's fake Responses API on 127.0.0.1 (tests/fake_openai.py), in the
same run:
1. one small streamed POST /v1/responses: direct TCP to the fake vs through a model
   socket (engine/brains/model_socket.py, Unix socket, key added, usage metered),
   interleaved; the added latency per request.
2. one `codex exec` turn (one model request, a one-line answer) on this machine: provider
   pointed straight at the fake vs at a model socket on a loopback port.
3. with Docker and the CLI image: the same turn inside a container with no network,
   through the relay (127.0.0.1:3130) and the model socket, and `true` through the same
   exec for the exec's own cost.
Needs the npm-cached codex (tests/test_cli_agent_codex.py fetches it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.brains.base import Usage  # noqa: E402
from engine.brains.model_api import OPENAI  # noqa: E402
from engine.brains.model_socket import ModelSocket  # noqa: E402
from tests.fake_openai import FakeResponses, message  # noqa: E402

CODEX = (Path.home() / ".cache/agentorch/codex-0.171.0/node_modules/@openai/codex-linux-x64/"
         "vendor/x86_64-unknown-linux-musl/bin/codex")
BODY = json.dumps({"model": "gpt-5-codex", "stream": True, "input": "hi"}).encode()


def provider(base_url: str) -> list[str]:
    return ["-c", f'model_providers.b={{name="b", base_url="{base_url}", wire_api="responses"}}',
            "-c", "model_provider=b", "-c", "analytics.enabled=false"]


async def post(open_conn) -> float:
    start = time.perf_counter()
    reader, writer = await open_conn()
    writer.write(b"POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                 b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY))
    await writer.drain()
    await reader.read()
    writer.close()
    return (time.perf_counter() - start) * 1000


async def codex_turn(home: Path, work: Path, base_url: str) -> float:
    argv = [str(CODEX), "exec", "--json", "--skip-git-repo-check", "--ignore-user-config",
            "--ignore-rules", "--sandbox", "danger-full-access", *provider(base_url),
            "-m", "gpt-5-codex", "--", "say hi"]
    env = {"PATH": "/usr/bin:/bin", "CODEX_HOME": str(home), "HOME": str(home),
           "NO_PROXY": "127.0.0.1"}
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, cwd=work, env=env,
                                                stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    assert b"turn.completed" in out, out[-500:]
    return (time.perf_counter() - start) * 1000


def show(name: str, values: list[float]) -> float:
    med = statistics.median(values)
    print(f"  {name:<44} median {med:8.2f} ms  (min {min(values):.2f}, n={len(values)})")
    return med


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=7)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    fake = FakeResponses()
    tmp = Path(tempfile.mkdtemp(prefix="ao-bench-", dir="/tmp"))
    charged: list[Usage] = []

    async def charge(usage: Usage) -> None:
        charged.append(usage)

    unix = ModelSocket(str(tmp / "model.sock"), charge, api_key="sk-bench", api=OPENAI,
                       upstream=fake.base_url, mode=0o666)
    await unix.start()
    tcp = ModelSocket("", charge, api_key="sk-bench", api=OPENAI, upstream=fake.base_url)
    port = await tcp.start_tcp()
    fake_port = int(fake.base_url.split(":")[2].split("/")[0])
    try:
        print(f"1. one streamed request ({args.requests}, interleaved)")
        direct, socket_ms = [], []
        for _ in range(args.requests):
            fake.push(message("hi"))
            direct.append(await post(lambda: asyncio.open_connection("127.0.0.1", fake_port)))
            fake.push(message("hi"))
            socket_ms.append(await post(lambda: asyncio.open_unix_connection(unix.path)))
        a = show("direct to the fake", direct)
        b = show("through the model socket (Unix)", socket_ms)
        print(f"  added per request: {b - a:.2f} ms")

        if not CODEX.exists():
            print("2./3. skipped: codex is not cached (run tests/test_cli_agent_codex.py)")
            return
        print(f"2. one codex exec turn on this machine ({args.turns}, interleaved)")
        work = tmp / "ws"
        work.mkdir()
        direct, socket_ms = [], []
        routes = ((direct, fake.base_url, tmp / "home-direct"),
                  (socket_ms, f"http://127.0.0.1:{port}/v1", tmp / "home-socket"))
        for _, base, home in routes:  # a first turn sets CODEX_HOME up: not measured
            home.mkdir()
            fake.push(message("hi"))
            await codex_turn(home, work, base)
        for _ in range(args.turns):
            for into, base, home in routes:
                fake.push(message("hi"))
                into.append(await codex_turn(home, work, base))
        a = show("codex -> fake directly", direct)
        b = show("codex -> model socket (loopback TCP) -> fake", socket_ms)
        print(f"  added per turn: {b - a:.2f} ms")
        await in_container(fake, unix, tmp, args.turns)
    finally:
        await unix.close()
        await tcp.close()
        fake.stop()
        os.system(f"rm -rf {tmp}")  # noqa: S605 - our own temporary folder


async def in_container(fake: FakeResponses, unix: ModelSocket, tmp: Path, turns: int) -> None:
    from sandboxes.base import SandboxSpec
    from sandboxes.docker import DockerSandbox
    from sandboxes.docker_client import docker_answers

    if not await docker_answers():
        print("3. skipped: no Docker daemon")
        return
    os.chmod(tmp, 0o755)  # the relay (its own uid) reaches the socket, as in ctl
    state = tmp / "state"
    state.mkdir(mode=0o777)
    os.chmod(state, 0o777)
    spec = SandboxSpec(backend="docker", workspace=tmp / "cws", run_id="bench-codex",
                       agent_id="cx", image="agentorch/sandbox-cli:latest",
                       binds=((str(tmp), "/agentorch/ctl", True),
                              (str(state), "/agentorch/state", False)),
                       relays=((3130, "/agentorch/ctl/model.sock"),))
    (tmp / "cws").mkdir()
    sandbox = DockerSandbox(spec)
    await sandbox.start()
    try:
        line = ("CODEX_HOME=/agentorch/state HOME=/agentorch/state NO_PROXY=127.0.0.1 codex exec "
                "--json --skip-git-repo-check --ignore-user-config --ignore-rules --sandbox "
                "danger-full-access " + " ".join(f"'{a}'" for a in provider(
                    "http://127.0.0.1:3130/v1")) + " -m gpt-5-codex -- 'say hi' </dev/null")
        print(f"3. one codex exec turn in a container, no network ({turns})")
        times, bare = [], []
        fake.push(message("hi"))
        await sandbox.exec(line, 120)  # a first turn sets CODEX_HOME up: not measured
        for _ in range(turns):
            fake.push(message("hi"))
            start = time.perf_counter()
            result = await sandbox.exec(line, 120)
            times.append((time.perf_counter() - start) * 1000)
            assert "turn.completed" in result.output, result.output[-500:]
            start = time.perf_counter()
            await sandbox.exec("true", 30)
            bare.append((time.perf_counter() - start) * 1000)
        a = show("codex -> relay -> model socket -> fake", times)
        b = show("`true` through the same exec", bare)
        print(f"  the turn without the exec's own cost: {a - b:.2f} ms")
    finally:
        await sandbox.stop()


if __name__ == "__main__":
    asyncio.run(main())
