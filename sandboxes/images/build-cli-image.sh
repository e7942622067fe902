#!/usr/bin/env bash
# Build the offline image for CLI agents (brain: claude-code): agentorch/sandbox-cli:latest
#
#   sandboxes/images/build-cli-image.sh [IMAGE]        (default agentorch/sandbox-cli:latest)
#
# No registry is needed: `npm install @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION`
# (cached under ~/.cache/agentorch/claude-code-<version>, so CI installs it once), then
# the native `claude` binary, the glibc libraries `ldd` names for it and a statically
# linked busybox (sh and the usual tools) go into a small root file system that is
# `docker import`ed with a non-root user `agent` (1000:1000), /tmp and /workspace, as
# sandboxes/images/build-test-image.sh does.  Users with a registry can build
# sandboxes/images/Dockerfile.cli instead (same pinned version, a full Debian).
#
# Idempotent: does nothing when the image exists with this version's label (FORCE=1
# rebuilds).  Needs npm (Debian: nodejs npm), docker and busybox-static.
set -euo pipefail

IMAGE="${1:-agentorch/sandbox-cli:latest}"
# the version agentorch is tested with; keep in step with Dockerfile.cli and the README
CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
CACHE="${AGENTORCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentorch}/claude-code-$CLAUDE_CODE_VERSION"

if [[ "${FORCE:-0}" != 1 ]] && [[ "$(docker image inspect -f '{{index .Config.Labels "agentorch.claude-code"}}' "$IMAGE" 2>/dev/null)" == "$CLAUDE_CODE_VERSION" ]]; then
    echo "image $IMAGE (claude-code $CLAUDE_CODE_VERSION) already exists (FORCE=1 to rebuild)"
    exit 0
fi

case "$(uname -m)" in
    x86_64) ARCH=x64 ;;
    aarch64) ARCH=arm64 ;;
    *) echo "error: no claude-code build for $(uname -m)" >&2; exit 1 ;;
esac

CLAUDE="$CACHE/node_modules/@anthropic-ai/claude-code-linux-$ARCH/claude"
if [[ ! -x "$CLAUDE" ]]; then
    if ! command -v npm >/dev/null; then
        echo "error: need npm to fetch claude-code: apt-get install nodejs npm" >&2
        exit 1
    fi
    echo "installing @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION into $CACHE ..."
    rm -rf "$CACHE.partial"
    mkdir -p "$CACHE.partial"
    # --ignore-scripts: the package's postinstall only links the native binary, which
    # we copy ourselves; the platform package comes as an optional dependency
    npm install --prefix "$CACHE.partial" --no-audit --no-fund --ignore-scripts --loglevel=error \
        "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@anthropic-ai/claude-code-linux-$ARCH@$CLAUDE_CODE_VERSION" >/dev/null
    rm -rf "$CACHE"
    mv "$CACHE.partial" "$CACHE"
fi
if [[ ! -x "$CLAUDE" ]]; then
    echo "error: npm did not install the native claude binary ($CLAUDE)" >&2
    exit 1
fi

# shellcheck source=rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"
find_static_busybox
require_static_busybox

ROOT="$(mktemp -d)"
trap 'rm -rf "$ROOT"' EXIT
busybox_rootfs "$ROOT" usr/local/bin etc/ssl/certs agentorch

cp "$CLAUDE" "$ROOT/usr/local/bin/claude"
# Claude Code's Bash tool needs a real bash (busybox's sh cannot run its shell snapshot)
BASH_BIN="$(command -v bash)"
rm -f "$ROOT/bin/bash"
cp -L "$BASH_BIN" "$ROOT/bin/bash"
chmod 0755 "$ROOT/usr/local/bin/claude" "$ROOT/bin/bash"
# the dynamic loader and every library ldd names, at the same paths
for program in "$CLAUDE" "$BASH_BIN"; do
    while read -r lib; do
        [[ -n "$lib" && -e "$lib" ]] || continue
        mkdir -p "$ROOT$(dirname "$lib")"
        cp -L "$lib" "$ROOT$lib"
    done < <(ldd "$program" | awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }')
done
if [[ -e /etc/ssl/certs/ca-certificates.crt ]]; then
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
fi

sandbox_users "$ROOT"

tar --numeric-owner -C "$ROOT" -c . | docker import \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /workspace' \
    --change 'ENV PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp SHELL=/bin/bash' \
    --change "LABEL agentorch.claude-code=$CLAUDE_CODE_VERSION" \
    --change 'CMD ["sleep", "infinity"]' \
    --message "agentorch CLI agent image (claude-code $CLAUDE_CODE_VERSION, busybox-static)" \
    - "$IMAGE" >/dev/null
echo "built $IMAGE (claude-code $CLAUDE_CODE_VERSION, $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
