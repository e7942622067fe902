# Shared steps of the offline image builds (sourced by build-test-image.sh and
# build-cli-image.sh): a statically linked busybox found on the host, a root file
# system made of it, and the sandbox user `agent` (1000:1000) with /tmp and /workspace.

is_static() {
    # a static binary runs alone in the image: ldd refuses it (not a dynamic executable)
    [[ -x "$1" ]] && ! ldd "$1" >/dev/null 2>&1 && "$1" --list >/dev/null 2>&1
}

# sets BUSYBOX to a static busybox of this host (or keeps the caller's BUSYBOX=)
find_static_busybox() {
    BUSYBOX="${BUSYBOX:-}"
    if [[ -z "$BUSYBOX" ]]; then
        for candidate in /bin/busybox /usr/bin/busybox /usr/lib/busybox/busybox-static; do
            if is_static "$candidate"; then BUSYBOX="$candidate"; break; fi
        done
    fi
}

require_static_busybox() {
    if [[ -z "$BUSYBOX" ]] || ! is_static "$BUSYBOX"; then
        echo "error: need a statically linked busybox: apt-get install busybox-static (or set BUSYBOX=/path)" >&2
        exit 1
    fi
}

# busybox_rootfs ROOT [EXTRA_DIR...]: the folders, busybox and a link per applet
busybox_rootfs() {
    local root="$1"
    shift
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,workspace,proc,sys,dev,home/agent,root,var/tmp}
    local extra
    for extra in "$@"; do mkdir -p "$root/$extra"; done
    cp "$BUSYBOX" "$root/bin/busybox"
    chmod 0755 "$root/bin/busybox"
    local applet
    for applet in $("$root/bin/busybox" --list); do
        # `busybox --list` names busybox itself: never link over the binary
        [[ "$applet" == busybox ]] && continue
        [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
    done
    # common absolute paths scripts use
    ln -sf ../../bin/env "$root/usr/bin/env"
}

# sandbox_users ROOT: root, agent (1000:1000) and nobody; /tmp 1777, /workspace the agent's
sandbox_users() {
    local root="$1"
    cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
agent:x:1000:1000:agentorch sandbox user:/home/agent:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
    cat > "$root/etc/group" <<'GROUP'
root:x:0:
agent:x:1000:
nogroup:x:65534:
GROUP
    echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    chown 1000:1000 "$root/home/agent" "$root/workspace" 2>/dev/null || true
    chmod 0777 "$root/workspace"
}
