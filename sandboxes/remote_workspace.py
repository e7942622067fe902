"""An agent's workspace on a Docker daemon on another machine (``SandboxSpec.remote``).

Nothing of this machine's file system can be bind-mounted there, so the workspace is a
named volume on the daemon (``agentorch-ws-<run>-<agent>``, labelled with the run and
the agent): kept when its container goes, like a host directory, so a resumed run finds
it again.  A clone the engine made for the agent (``SandboxSpec.seed``) is shipped into a
fresh volume as DATA, one tar stream through the daemon's archive API, owned by the
sandbox user; checkpoints come back the same way (sandboxes/workspaces/snapshot.py).
A throwaway workspace (a QA copy, ``SandboxSpec.ephemeral``) is an anonymous volume
removed with its container.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sandboxes.base import SandboxError
from sandboxes.docker_cleanup import LABEL_AGENT, LABEL_RUN
from sandboxes.docker_client import _docker_module, _get_client, _short, docker_slug
from sandboxes.docker_exec import WORKDIR


def volume_name(run_id: str, agent_id: str) -> str:
    return f"agentorch-ws-{docker_slug(run_id, 60)}-{docker_slug(agent_id, 60)}"


def ensure_volume(api, name: str, run_id: str, agent_id: str) -> bool:
    """The run's named volume for an agent's workspace; True when it was just created."""
    docker = _docker_module()
    try:
        api.inspect_volume(name)
        return False
    except docker.errors.NotFound:
        api.create_volume(name, labels={LABEL_RUN: run_id, LABEL_AGENT: agent_id})
        return True


def volume_exists(run_id: str, agent_id: str) -> bool:
    """Whether the daemon still holds this agent's workspace volume (for a resume)."""
    docker = _docker_module()
    try:
        _get_client().api.inspect_volume(volume_name(run_id, agent_id))
    except docker.errors.NotFound:
        return False
    return True


def _owned_by(uid: int, gid: int):
    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if not (info.isfile() or info.isdir() or info.issym()):
            return None  # a clone holds nothing else; never a device or a FIFO
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        return info
    return owned


def _tar(seed: Path, stream, uid: int, gid: int) -> None:
    """The folder as a tar stream owned by ``uid:gid``: GNU tar where there is one (ten
    times Python's speed on 10,000 files), else Python's tarfile."""
    tar = shutil.which("tar")
    if tar and b"GNU tar" in subprocess.run([tar, "--version"], capture_output=True,
                                            check=False).stdout:
        done = subprocess.run([tar, "-C", str(seed), f"--owner=agent:{uid}",
                               f"--group=agent:{gid}", "-cf", "-", "."], stdout=stream,
                              stderr=subprocess.PIPE, check=False)
        if done.returncode == 0:
            return
        stream.seek(0)
        stream.truncate()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name in sorted(os.listdir(seed)):
            archive.add(seed / name, arcname=name, recursive=True, filter=_owned_by(uid, gid))


def seed_workspace(api, container_id: str, seed: Path, uid: int, gid: int, agent_id: str) -> int:
    """Ship the folder ``seed`` (a fresh clone the engine made in its own area, before
    any sandbox saw it) into the container's /workspace as one tar stream, every entry
    owned by ``uid:gid``; then remove the folder.  Returns the bytes shipped.
    SandboxError in one sentence if the daemon refuses."""
    with tempfile.TemporaryFile(dir=seed.parent, prefix=".seed-") as stream:
        _tar(seed, stream, uid, gid)
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        try:
            ok = api.put_archive(container_id, WORKDIR, stream)
        except _docker_module().errors.APIError as exc:
            raise SandboxError(f"could not ship {agent_id}'s clone into its workspace volume "
                               f"({_short(exc.explanation or exc)})") from None
    arrived = _count_inside(api, container_id)
    expected = _count(seed)
    if not ok or arrived < expected:  # more: the image's own /workspace, copied in
        raise SandboxError(f"could not ship {agent_id}'s clone into its workspace volume "
                           f"({arrived} of {expected} files and folders arrived)")
    shutil.rmtree(seed, ignore_errors=True)
    return size


def _count(top: Path) -> int:
    """Files, links and folders under ``top`` (our own fresh clone), ``top`` included."""
    return 1 + sum(len(dirs) + len(files) for _, dirs, files in os.walk(top))


def _count_inside(api, container_id: str) -> int:
    """The same count of /workspace, inside the container (as root: every folder)."""
    from sandboxes.docker_exec import exit_code_of

    exec_id = api.exec_create(container_id, ["sh", "-c", f"find {WORKDIR} | wc -l"], user="0:0",
                              workdir="/")["Id"]
    out = api.exec_start(exec_id)
    if exit_code_of(api, exec_id) != 0:
        return -1
    try:
        return int(out.split()[0])
    except (IndexError, ValueError):
        return -1


def writable_problem(api, container_id: str, user: str, image: str) -> str | None:
    """Why the sandbox user cannot write its fresh volume's top folder (its owner comes
    from the image's /workspace), or None."""
    from sandboxes.docker_exec import exit_code_of

    exec_id = api.exec_create(container_id, ["sh", "-c", f"test -w {WORKDIR}"], user=user,
                              workdir="/")["Id"]
    api.exec_start(exec_id)
    if exit_code_of(api, exec_id) == 0:
        return None
    return (f"image {image} has no /workspace the sandbox user ({user}) may write, so its "
            "volume on the remote daemon is not writable; add `RUN mkdir -p /workspace && "
            f"chown {user} /workspace` to the image's Dockerfile")


def remove_run_volumes(run_id: str) -> list[str]:
    """Remove the workspace volumes of ``run_id`` on the daemon (`clean`); their names."""
    api = _get_client().api
    found = api.volumes(filters={"label": f"{LABEL_RUN}={run_id}"}).get("Volumes") or []
    removed = []
    for volume in found:
        name = volume.get("Name")
        if name and name.startswith("agentorch-ws-"):
            api.remove_volume(name, force=True)
            removed.append(name)
    return removed
