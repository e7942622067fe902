"""The shared docker-py client, the daemon and image checks (docker backend)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import threading
from collections.abc import Callable
from typing import Any

from sandboxes.base import DEFAULT_IMAGE, SandboxError

TEST_IMAGE = "agentorch/sandbox-test:latest"
BUILD_DEFAULT_IMAGE = "docker build -t agentorch/sandbox:latest -f sandboxes/Dockerfile sandboxes/"
BUILD_TEST_IMAGE = "sandboxes/images/build-test-image.sh"

# Worker threads for short blocking calls, separate from the loop's default
# executor so that many agents never starve the engine's own to_thread calls.
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="agentorch-docker")

_client_lock = threading.Lock()
_client: Any = None


def _docker_module():
    try:
        import docker  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise SandboxError(
            "the Python package 'docker' is missing; install agentorch's dependencies "
            "(pip install -e .) or set sandbox.backend: local"
        ) from exc
    return docker


def _no_daemon_error(detail: object) -> SandboxError:
    host = os.environ.get("DOCKER_HOST", "").strip()
    if host.lower().startswith("ssh://"):
        from sandboxes.docker_ssh import ssh_said

        target = host[len("ssh://"):].split("/")[0]
        if re.search(r":\d+$", target):  # ssh takes the port as -p
            target, port = target.rsplit(":", 1)
            target = f"-p {port} {target}"
        said = ssh_said()
        return SandboxError(
            f"the Docker daemon at {host} does not answer ({_short(said or detail)}); check that "
            f"`ssh {target} docker version` works (your ssh config and keys are used), or unset "
            "DOCKER_HOST to use this machine's Docker")
    if host.lower().startswith(REMOTE_SCHEMES):
        return SandboxError(
            f"the Docker daemon at {host} does not answer ({_short(detail)}); check the address "
            "(and DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for TLS), or unset DOCKER_HOST to use "
            "this machine's Docker")
    return SandboxError(
        f"Docker is not reachable ({_short(detail)}); start Docker (e.g. `sudo systemctl start "
        "docker`, or run `dockerd`) or set `sandbox.backend: local` in agents.yaml"
    )


#: DOCKER_HOST schemes of a daemon on another machine (unix:// and npipe:// are this one)
REMOTE_SCHEMES = ("tcp://", "ssh://", "https://", "http://")


def daemon_is_remote(setting: bool | str = "auto", docker_host: str | None = None) -> bool:
    """Whether the Docker daemon is on another machine (`sandbox.remote`): ``True`` or
    ``False`` as configured, or for `auto` judged by DOCKER_HOST's scheme."""
    if isinstance(setting, bool):
        return setting
    host = os.environ.get("DOCKER_HOST", "") if docker_host is None else docker_host
    return host.strip().lower().startswith(REMOTE_SCHEMES)


def _client_options() -> dict[str, Any]:
    """``ssh://`` through the system's ssh client, as the docker CLI does (your
    ~/.ssh/config and agent; docker-py would otherwise need paramiko)."""
    if os.environ.get("DOCKER_HOST", "").strip().lower().startswith("ssh://"):
        from sandboxes.docker_ssh import patch_ssh_client

        patch_ssh_client(os.environ["DOCKER_HOST"])
        return {"use_ssh_client": True}
    return {}


def _from_env(**options: Any):
    """docker.from_env, except that over TLS the daemon is verified with DOCKER_CERT_PATH's
    CA, as the docker CLI does: requests would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    replace it on every request (psf/requests#3829), and a daemon with its own CA would
    fail to verify.  The API version is then asked once the client trusts its CA."""
    docker = _docker_module()
    options.update(_client_options())
    if not os.environ.get("DOCKER_TLS_VERIFY") and not os.environ.get("DOCKER_CERT_PATH"):
        return docker.from_env(**options)
    from docker.constants import MINIMUM_DOCKER_API_VERSION

    client = docker.from_env(version=MINIMUM_DOCKER_API_VERSION, **options)  # asks nothing yet
    client.api.trust_env = False
    client.api._version = client.api._retrieve_server_version()  # noqa: SLF001 - as "auto" does
    return client


def _get_client():
    """The shared docker-py client (thread-safe enough for concurrent requests)."""
    global _client
    with _client_lock:
        if _client is None:
            _docker_module()  # a clear error when docker-py is missing
            try:
                _client = _from_env(timeout=120, max_pool_size=64)
            except Exception as exc:  # DockerException: no daemon / bad DOCKER_HOST
                raise _no_daemon_error(exc) from None
        return _client


def docker_slug(text: str, limit: int) -> str:
    """``text`` as a part of a Docker object name (container, volume, host name)."""
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.") or "x"
    return slug[:limit]


def _short(detail: object, limit: int = 160) -> str:
    text = " ".join(str(detail).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def _in_thread(fn: Callable, *args):
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)


def docker_available(timeout: float = 2.0) -> bool:
    """True when a Docker daemon answers a ping within ``timeout`` seconds.  Never raises."""
    try:
        _docker_module()
        client = _from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def build_command(image: str) -> str:
    """The command that builds ``image``, for error messages."""
    repo = image.rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    if image == DEFAULT_IMAGE:
        return BUILD_DEFAULT_IMAGE
    if image == TEST_IMAGE:
        return BUILD_TEST_IMAGE
    if repo == DEFAULT_IMAGE.split(":")[0]:
        return f"docker build -t {image} -f sandboxes/Dockerfile sandboxes/"
    if repo == TEST_IMAGE.split(":")[0]:
        return f"{BUILD_TEST_IMAGE} {image}"
    return f"docker build -t {image} DIR"


class ImageMissingError(SandboxError):
    """A Docker daemon answers but the team's image is not there: a setup error, never
    a reason to run on the local backend instead."""


def _missing_image_error(image: str, reason: str) -> ImageMissingError:
    hint = "" if reason.startswith("pull failed") else (
        ", or set `sandbox.pull: true` in agents.yaml to pull it from a registry")
    return ImageMissingError(
        f"Docker image {image} is not available ({reason}); build it with "
        f"`{build_command(image)}`{hint}"
    )


def _ensure_image(client, image: str, pull: bool = False) -> None:
    """Raise ImageMissingError unless ``image`` is present; pulled only with ``pull``."""
    docker = _docker_module()
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.DockerException as exc:
        raise _no_daemon_error(exc) from None
    reason = "not present"
    if pull:
        try:
            repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
            client.images.pull(repo or image, tag=tag or "latest")
            return
        except Exception as exc:
            reason = f"pull failed: {_short(getattr(exc, 'explanation', None) or exc, 100)}"
    raise _missing_image_error(image, reason)


async def docker_answers(timeout: float = 2.0) -> bool:
    """:func:`docker_available` in a worker thread: the ping never blocks the event loop."""
    return await asyncio.to_thread(docker_available, timeout)


async def check_docker(image: str = DEFAULT_IMAGE, pull: bool = False) -> None:
    """Raise SandboxError with what to do when Docker or ``image`` is not usable.

    A missing image raises ImageMissingError; it is pulled first only with ``pull``.
    """

    def check() -> None:
        client = _get_client()
        try:
            client.ping()
        except Exception as exc:
            raise _no_daemon_error(exc) from None
        _ensure_image(client, image, pull)

    await _in_thread(check)

