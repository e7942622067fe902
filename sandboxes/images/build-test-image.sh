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

# shellcheck source=rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

find_static_busybox
if [[ -z "$BUSYBOX" ]] && command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    echo "installing busybox-static ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null; }
    BUSYBOX=/bin/busybox
fi
require_static_busybox

ROOT="$(mktemp -d)"
trap 'rm -rf "$ROOT"' EXIT

busybox_rootfs "$ROOT"
sandbox_users "$ROOT"

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
