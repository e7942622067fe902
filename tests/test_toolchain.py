"""The project's toolchain: `sandbox.build:` (a real docker build FROM the offline test
image, once per Dockerfile), `setup:` commands before the agent starts (output in its
console; a failing one stops the start), and `copy:` of untracked files into each
clone (a warning; never through a symlink, never over a tracked file)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid

import pytest
from docker_support import require_docker
from engine_support import make_team, run_to_end, step
from git_repos import make_repo

from engine import events as ev
from engine.run import Engine
from engine.toolchain import image_tag
from memory.store import Store
from sandboxes.base import SandboxError
from sandboxes.docker import TEST_IMAGE


def outputs(watcher, agent: str) -> list[dict]:
    return [e.data for e in watcher.events if e.type == ev.CONSOLE and e.agent == agent]


def first_index(watcher, pred) -> int:
    return next(i for i, e in enumerate(watcher.events) if pred(e))


async def start_fails(team, tmp_path) -> str:
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    try:
        with pytest.raises(SandboxError) as info:
            await engine.start()
        return str(info.value)
    finally:
        await store.close()


# -- setup -------------------------------------------------------------------------------
async def test_setup_runs_team_then_agent_commands_before_the_agent(tmp_path) -> None:
    team = make_team(tmp_path, [
        {"id": "a", "setup": ["echo mine > own.txt"], "script": [
            step("run_command", command="cat team.txt own.txt")]},
        {"id": "b", "script": [step("run_command", command="cat team.txt")]}],
        sandbox={"backend": "local", "setup": ["echo team-wide > team.txt"]})
    engine, watcher, store = await run_to_end(team, tmp_path)
    await store.close()
    a = outputs(watcher, "a")
    assert [d["text"] for d in a if d["kind"] == "command"] == [
        "echo team-wide > team.txt", "echo mine > own.txt", "cat team.txt own.txt"]
    own = next(i for i, d in enumerate(a) if d.get("text") == "cat team.txt own.txt")
    assert all(d.get("setup") for d in a[:own]) and not any(d.get("setup") for d in a[own:])
    assert "team-wide\nmine" in "".join(d["text"] for d in a if d["kind"] == "output")
    setup_done = max(i for i, e in enumerate(watcher.events) if e.type == ev.CONSOLE
                     and e.agent == "a" and e.data.get("setup"))
    first_call = first_index(watcher, lambda e: e.type == ev.TOOL_CALL and e.agent == "a")
    assert setup_done < first_call
    assert [d["text"] for d in outputs(watcher, "b") if d["kind"] == "command"] == [
        "echo team-wide > team.txt", "cat team.txt"]


async def test_a_failing_setup_stops_the_start_in_one_sentence(tmp_path) -> None:
    team = make_team(tmp_path, [{"id": "a", "setup": ["echo half; exit 3"], "script": [
        step("write_file", path="never.txt", content="x")]}], sandbox={"backend": "local"})
    text = await start_fails(team, tmp_path)
    assert text == "setup of a: `echo half; exit 3` exited 3; its console shows the output"
    assert not (tmp_path / ".agentorch" / "workspaces" / "a" / "never.txt").exists()


# -- copy --------------------------------------------------------------------------------
def repo_with_env(tmp_path):
    repo = make_repo(tmp_path / "proj", {"README.md": "hi\n", ".gitignore": ".env\nlocal/\n"})
    (repo / ".env").write_text("TOKEN=s3cret\n")
    (repo / "local").mkdir()
    (repo / "local" / "conf.ini").write_text("[x]\n")
    return repo


async def test_copy_puts_untracked_files_in_each_clone_with_a_warning(tmp_path) -> None:
    repo_with_env(tmp_path)
    team = make_team(tmp_path, [{"id": n, "script": [step("run_command", command="cat .env local/conf.ini")]}
                                for n in ("a", "b")], repo="proj", copy=[".env", "local/conf.ini"])
    engine, watcher, store = await run_to_end(team, tmp_path)
    await store.close()
    for agent in ("a", "b"):
        out = "".join(d["text"] for d in outputs(watcher, agent) if d["kind"] == "output")
        assert "TOKEN=s3cret" in out and "[x]" in out
        assert oct(os.stat(engine.workspace(agent) / ".env").st_mode & 0o777) == "0o600"
    warning = next(e for e in watcher.events if e.type == ev.NOTICE and e.data.get("copied"))
    assert ".env, local/conf.ini" in warning.data["text"] and "secrets" in warning.data["text"]
    # what was copied is untracked in the clone: never part of a checkpoint or a merge
    assert engine.workspaces.repo.ref(f"refs/agentorch/checkpoints/{engine.run_id}/a") is None


@pytest.mark.parametrize("problem", ["tracked", "symlink", "missing"])
async def test_copy_refuses_tracked_symlinked_or_missing_files(tmp_path, problem) -> None:
    repo = repo_with_env(tmp_path)
    name = {"tracked": "README.md", "symlink": "link.env", "missing": "nope.env"}[problem]
    if problem == "symlink":
        (tmp_path / "host-secret").write_text("host only")
        (repo / "link.env").symlink_to(tmp_path / "host-secret")
    team = make_team(tmp_path, [{"id": "a", "script": []}], repo="proj", copy=[name])
    text = await start_fails(team, tmp_path)
    assert text.startswith("cannot prepare the agents' clones of")
    assert {"tracked": "is in the repository already", "symlink": "a symlink",
            "missing": "does not exist"}[problem] in text


def test_copy_paths_outside_the_repository_are_config_errors(tmp_path) -> None:
    from engine.config import TeamConfig

    for bad in ("../x", "/etc/passwd", ".git/config"):
        with pytest.raises(ValueError, match="copy"):
            TeamConfig.model_validate({"agents": [{"id": "a"}], "copy": [bad]})


# -- build (real Docker) -------------------------------------------------------------------
@pytest.mark.docker
async def test_build_makes_the_team_image_once_and_agents_run_in_it(tmp_path) -> None:
    require_docker()
    marker = uuid.uuid4().hex
    (tmp_path / "Dockerfile").write_text(f"FROM {TEST_IMAGE}\nUSER root\nRUN echo {marker} > /etc/built\n"
                                            "USER agent\n")
    team_name = f"build-{marker[:8]}"

    def team():
        return make_team(tmp_path, [{"id": "a", "setup": ["cat /etc/built"], "script": [
            step("run_command", command="cat /etc/built")]}], name=team_name,
            sandbox={"backend": "docker", "build": "Dockerfile"})

    tag = image_tag(team_name, (tmp_path / "Dockerfile").read_bytes())
    try:
        engine, watcher, store = await run_to_end(team(), tmp_path, timeout=180)
        await store.close()
        assert engine.built_image == tag
        out = [d for d in outputs(watcher, "a") if d["kind"] == "output"]
        assert [d["text"].strip() for d in out] == [marker, marker]
        assert out[0].get("setup") and not out[1].get("setup")
        assert any(e.data.get("build") == tag and "building" in e.data["text"]
                   for e in watcher.events if e.type == ev.NOTICE)
        (tmp_path / "state.db").unlink()
        engine, watcher, store = await run_to_end(team(), tmp_path, timeout=60)
        await store.close()
        assert engine.built_image == tag  # the same Dockerfile: not built again
        assert not any(e.data.get("build") for e in watcher.events if e.type == ev.NOTICE)
    finally:
        from sandboxes.docker_client import _get_client

        with contextlib.suppress(Exception):  # built or not: leave no image behind
            await asyncio.to_thread(_get_client().images.remove, tag, force=True)


@pytest.mark.docker
async def test_a_failing_build_stops_the_start_in_one_sentence(tmp_path) -> None:
    require_docker()
    (tmp_path / "Dockerfile").write_text(f"FROM {TEST_IMAGE}\nRUN exit 7\n")
    team = make_team(tmp_path, [{"id": "a", "script": []}], name=f"bad-{uuid.uuid4().hex[:8]}",
                     sandbox={"backend": "docker", "build": "Dockerfile"})
    text = await start_fails(team, tmp_path)
    assert text.startswith("sandbox.build: building Dockerfile failed:") and "7" in text


async def test_a_missing_dockerfile_is_one_sentence(tmp_path) -> None:
    require_docker()
    team = make_team(tmp_path, [{"id": "a", "script": []}],
                     sandbox={"backend": "docker", "build": "nope/Dockerfile"})
    text = await start_fails(team, tmp_path)
    assert text.startswith("sandbox.build: cannot read nope/Dockerfile")




def test_a_devcontainer_json_names_a_dockerfile_or_an_image(tmp_path) -> None:
    from engine.toolchain import build_recipe

    (tmp_path / ".devcontainer").mkdir()
    (tmp_path / "Dockerfile").write_text(f"FROM {TEST_IMAGE}\n")
    config = tmp_path / ".devcontainer" / "devcontainer.json"
    config.write_text('{\n  // comments and trailing commas are allowed\n'
                      '  "name": "a // b", /* here too */\n'
                      '  "build": {"dockerfile": "../Dockerfile", "context": "..",},\n}\n')
    assert build_recipe(config) == (tmp_path / "Dockerfile", tmp_path)
    config.write_text('{"image": "agentorch/sandbox-test:latest"}')
    assert build_recipe(config) == "agentorch/sandbox-test:latest"
    config.write_text('{"name": "nothing to run"}')
    with pytest.raises(ValueError, match="neither `image` nor `build.dockerfile`"):
        build_recipe(config)


@pytest.mark.docker
async def test_build_from_a_devcontainer_json(tmp_path) -> None:
    require_docker()
    marker = uuid.uuid4().hex
    (tmp_path / ".devcontainer").mkdir()
    (tmp_path / "Dockerfile").write_text(f"FROM {TEST_IMAGE}\nUSER root\n"
                                         f"RUN echo {marker} > /etc/built\nUSER agent\n")
    (tmp_path / ".devcontainer" / "devcontainer.json").write_text(
        '{"build": {"dockerfile": "../Dockerfile", "context": ".."}}')
    team = make_team(tmp_path, [{"id": "a", "script": [step("run_command", command="cat /etc/built")]}],
                     name=f"dc-{marker[:8]}",
                     sandbox={"backend": "docker", "build": ".devcontainer/devcontainer.json"})
    tag = image_tag(team.name, (tmp_path / "Dockerfile").read_bytes())
    try:
        engine, watcher, store = await run_to_end(team, tmp_path, timeout=180)
        await store.close()
        assert engine.built_image == tag
        assert marker in "".join(d["text"] for d in outputs(watcher, "a") if d["kind"] == "output")
    finally:
        from sandboxes.docker_client import _get_client

        with contextlib.suppress(Exception):
            await asyncio.to_thread(_get_client().images.remove, tag, force=True)
