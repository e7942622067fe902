#!/usr/bin/env bash
# Build the offline image for CLI agents (brain: claude-code, codex): agentorch/sandbox-cli:latest
#
#   sandboxes/images/build-cli-image.sh [IMAGE]        (default agentorch/sandbox-cli:latest)
#
# No registry is needed: `npm install @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION` and
# `@openai/codex@$CODEX_VERSION` (each cached under ~/.cache/agentorch/<name>-<version>,
# so CI installs them once), then the native `claude` binary, the glibc libraries `ldd`
# names for it, Codex's static (musl) `codex` binary and its `rg`, and a statically
# linked busybox (sh and the usual tools) go into a small root file system that is
# `docker import`ed with a non-root user `agent` (1000:1000), /tmp and /workspace, as
# sandboxes/images/build-test-image.sh does.  Users with a registry can build
# sandboxes/images/Dockerfile.cli instead (same pinned versions, a full Debian).
#
# Idempotent: does nothing when the image exists with the label of this recipe (a hash
# of this script, rootfs.sh and the versions: any change rebuilds; FORCE=1 rebuilds
# anyway).  Needs npm (Debian: nodejs npm), docker and busybox-static.
set -euo pipefail

IMAGE="${1:-agentorch/sandbox-cli:latest}"
# the version agentorch is tested with; keep in step with Dockerfile.cli and the README
CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
CACHE_ROOT="${AGENTORCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentorch}"
CACHE="$CACHE_ROOT/claude-code-$CLAUDE_CODE_VERSION"
CODEX_CACHE="$CACHE_ROOT/codex-$CODEX_VERSION"
HERE="$(dirname "${BASH_SOURCE[0]}")"
RECIPE="$(cat "$HERE/build-cli-image.sh" "$HERE/rootfs.sh" <(echo "$CLAUDE_CODE_VERSION $CODEX_VERSION") | sha256sum | cut -c1-16)"

if [[ "${FORCE:-0}" != 1 ]] && [[ "$(docker image inspect -f '{{index .Config.Labels "agentorch.cli-image"}}' "$IMAGE" 2>/dev/null)" == "$RECIPE" ]]; then
    echo "image $IMAGE (claude-code $CLAUDE_CODE_VERSION, codex $CODEX_VERSION) already exists (FORCE=1 to rebuild)"
    exit 0
fi

case "$(uname -m)" in
    x86_64) ARCH=x64; TRIPLE=x86_64-unknown-linux-musl ;;
    aarch64) ARCH=arm64; TRIPLE=aarch64-unknown-linux-musl ;;
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

# Codex: the npm package's platform part (an alias of @openai/codex@VERSION-linux-ARCH)
# holds a static musl binary and the ripgrep it runs; nothing else of it is needed
CODEX_VENDOR="$CODEX_CACHE/node_modules/@openai/codex-linux-$ARCH/vendor/$TRIPLE"
if [[ ! -x "$CODEX_VENDOR/bin/codex" ]]; then
    echo "installing @openai/codex@$CODEX_VERSION into $CODEX_CACHE ..."
    rm -rf "$CODEX_CACHE.partial"
    mkdir -p "$CODEX_CACHE.partial"
    npm install --prefix "$CODEX_CACHE.partial" --no-audit --no-fund --ignore-scripts --loglevel=error \
        "@openai/codex@$CODEX_VERSION" >/dev/null
    rm -rf "$CODEX_CACHE"
    mv "$CODEX_CACHE.partial" "$CODEX_CACHE"
fi
if [[ ! -x "$CODEX_VENDOR/bin/codex" ]]; then
    echo "error: npm did not install the codex binary ($CODEX_VENDOR/bin/codex)" >&2
    exit 1
fi

# shellcheck source=rootfs.sh
source "$HERE/rootfs.sh"
find_static_busybox
require_static_busybox

ROOT="$(mktemp -d)"
trap 'rm -rf "$ROOT"' EXIT
busybox_rootfs "$ROOT" usr/local/bin etc/ssl/certs agentorch

cp "$CLAUDE" "$ROOT/usr/local/bin/claude"
cp "$CODEX_VENDOR/bin/codex" "$ROOT/usr/local/bin/codex"
if [[ -x "$CODEX_VENDOR/codex-path/rg" ]]; then
    cp "$CODEX_VENDOR/codex-path/rg" "$ROOT/usr/local/bin/rg"
fi
# Claude Code's Bash tool needs a real bash (busybox's sh cannot run its shell snapshot)
BASH_BIN="$(command -v bash)"
rm -f "$ROOT/bin/bash"
cp -L "$BASH_BIN" "$ROOT/bin/bash"
chmod 0755 "$ROOT/usr/local/bin/"* "$ROOT/bin/bash"
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
    --change "LABEL agentorch.claude-code=$CLAUDE_CODE_VERSION agentorch.codex=$CODEX_VERSION agentorch.cli-image=$RECIPE" \
    --change 'CMD ["sleep", "infinity"]' \
    --message "agentorch CLI agent image (claude-code $CLAUDE_CODE_VERSION, codex $CODEX_VERSION, busybox-static)" \
    - "$IMAGE" >/dev/null
echo "built $IMAGE (claude-code $CLAUDE_CODE_VERSION, codex $CODEX_VERSION, $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
