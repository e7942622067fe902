#!/usr/bin/env bash
# Build the small offline test image for the docker sandbox backend.
#
#   sandboxes/images/build-test-image.sh [IMAGE]      (default agentorch/sandbox-test:latest)
#
# It also builds IMAGE's sibling agentorch/sandbox-test-tmp755:latest, the same
# file system with /tmp at mode 755 (as many images have it), on which the
# sandbox must still work: it makes /tmp writable itself.
#
# No registry is needed: the image is a `docker import` of a tiny root file
# system made from a statically linked busybox (Debian: busybox-static).  It has
# sh, setsid, kill and the usual tools, a non-root user `agent` (1000:1000),
# /tmp and /workspace.  Idempotent: does nothing when the image already exists
# (set FORCE=1 to rebuild).  Takes a few seconds; the image is a few MB.
set -euo pipefail

IMAGE="${1:-agentorch/sandbox-test:latest}"
TMP755_IMAGE="${TMP755_IMAGE:-agentorch/sandbox-test-tmp755:latest}"

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1 \
    && docker image inspect "$TMP755_IMAGE" >/dev/null 2>&1; then
    echo "image $IMAGE already exists (FORCE=1 to rebuild)"
    exit 0
fi

is_static() {
    # a static binary runs alone in the image: ldd refuses it (not a dynamic executable)
    [[ -x "$1" ]] && ! ldd "$1" >/dev/null 2>&1 && "$1" --list >/dev/null 2>&1
}

BUSYBOX="${BUSYBOX:-}"
if [[ -z "$BUSYBOX" ]]; then
    for candidate in /bin/busybox /usr/bin/busybox /usr/lib/busybox/busybox-static; do
        if is_static "$candidate"; then BUSYBOX="$candidate"; break; fi
    done
fi
if [[ -z "$BUSYBOX" ]] && command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    echo "installing busybox-static ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null; }
    BUSYBOX=/bin/busybox
fi
if [[ -z "$BUSYBOX" ]] || ! is_static "$BUSYBOX"; then
    echo "error: need a statically linked busybox: apt-get install busybox-static (or set BUSYBOX=/path)" >&2
    exit 1
fi

ROOT="$(mktemp -d)"
trap 'rm -rf "$ROOT"' EXIT

mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,workspace,proc,sys,dev,home/agent,root,var/tmp}
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 0755 "$ROOT/bin/busybox"
for applet in $("$ROOT/bin/busybox" --list); do
    # `busybox --list` names busybox itself: never link over the binary
    [[ "$applet" == busybox ]] && continue
    [[ -e "$ROOT/bin/$applet" ]] || ln -s busybox "$ROOT/bin/$applet"
done
# common absolute paths scripts use
ln -sf ../../bin/env "$ROOT/usr/bin/env"

cat > "$ROOT/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
agent:x:1000:1000:agentorch sandbox user:/home/agent:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$ROOT/etc/group" <<'GROUP'
root:x:0:
agent:x:1000:
nogroup:x:65534:
GROUP
echo 'hosts: files dns' > "$ROOT/etc/nsswitch.conf"
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
chown 1000:1000 "$ROOT/home/agent" "$ROOT/workspace" 2>/dev/null || true
chmod 0777 "$ROOT/workspace"

import_as() {
    tar --numeric-owner -C "$ROOT" -c . | docker import \
        --change 'USER 1000:1000' \
        --change 'WORKDIR /workspace' \
        --change 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp' \
        --change 'CMD ["sleep", "infinity"]' \
        --message 'agentorch offline test image (busybox-static)' \
        - "$1" >/dev/null
    echo "built $1 ($(docker image inspect -f '{{.Size}}' "$1") bytes)"
}
import_as "$IMAGE"
chmod 0755 "$ROOT/tmp"
import_as "$TMP755_IMAGE"
