/*
 * Workspace snapshots for checkpoints, run inside the sandbox as the sandbox user
 * (included by supervisor.c: `supervisor --list DIR` and `supervisor --read DIR MAX`,
 * each started through the exec session like any command).  The engine's side is
 * sandboxes/workspaces/docker_snapshot.py.
 *
 * --list DIR [SINCE MAX]: walk DIR through directory descriptors (openat with
 *   O_NOFOLLOW, fstatat with AT_SYMLINK_NOFOLLOW), `.git` folders (any case, and GIT~1)
 *   pruned, and write one record per regular file and symlink:
 *       path NUL signature NUL
 *   signature = "ino:size:mtime_ns:ctime_ns:mode" (mode in octal), plus ":r<start_ns>"
 *   when the ctime is within RACY_NS of the walk's start (such a signature never
 *   matches again, so the file is read again next time: a rewrite in the same clock
 *   tick may keep size, mtime and ctime).  A folder or entry that cannot be read gives
 *   "path NUL ! NUL".  The listing ends with "NUL end NUL" (an empty path; without it
 *   the engine does not trust it), then "start_ns NUL", then the answers (as --read
 *   gives them) for the files whose ctime is at least SINCE, up to INLINE_BYTES in
 *   all: what changed since the last listing comes with it, in one command.
 * --read DIR MAX: for each NUL-terminated path on stdin (relative to DIR), resolved
 *   one component at a time with O_NOFOLLOW (a symlink on the way is refused):
 *       path NUL kind NUL mode NUL length NUL bytes
 *   kind: f (a file: its bytes), l (a symlink: its target), s (a file over MAX bytes:
 *   skipped, no bytes), g (gone, or not a file), e<errno> (could not be read).
 *
 * Nothing here writes to the file system, and nothing outside DIR is opened.
 */
#include <sys/stat.h>

#define RACY_NS 2000000000LL
#define PATH_BUF (512 * 1024)
#define INLINE_BYTES (16LL << 20)

static long long snap_start, snap_horizon, snap_since = -1, snap_max, snap_inline_left;
static char snap_path[PATH_BUF];
static char *snap_inline;                 /* NUL-terminated paths to answer after the listing */
static size_t snap_inline_len, snap_inline_cap;

static int snap_git_name(const char *name) {
    return strcasecmp(name, ".git") == 0 || strcasecmp(name, "git~1") == 0;
}

static long long snap_ns(struct timespec ts) { return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec; }

static void snap_record(size_t len, const char *sig) {
    fwrite(snap_path, 1, len + 1, stdout);    /* the path and its NUL */
    fputs(sig, stdout);
    putchar(0);
}

static void snap_signature(size_t len, const struct stat *st) {
    char sig[160];
    long long ctime = snap_ns(st->st_ctim);
    int n = snprintf(sig, sizeof sig, "%llu:%lld:%lld:%lld:%o", (unsigned long long)st->st_ino,
                     (long long)st->st_size, snap_ns(st->st_mtim), ctime, (unsigned)st->st_mode);
    if (ctime >= snap_horizon) snprintf(sig + n, sizeof sig - (size_t)n, ":r%lld", snap_start);
    snap_record(len, sig);
    long long cost = S_ISREG(st->st_mode) && st->st_size <= snap_max ? (long long)st->st_size : 0;
    if (snap_since >= 0 && ctime >= snap_since && cost <= snap_inline_left) {
        if (snap_inline_len + len + 1 > snap_inline_cap) {
            size_t cap = snap_inline_cap ? snap_inline_cap * 2 : 65536;
            while (cap < snap_inline_len + len + 1) cap *= 2;
            char *more = realloc(snap_inline, cap);
            if (!more) return;                 /* answered by a --read instead */
            snap_inline = more;
            snap_inline_cap = cap;
        }
        memcpy(snap_inline + snap_inline_len, snap_path, len + 1);
        snap_inline_len += len + 1;
        snap_inline_left -= cost;
    }
}

static void snap_read_one(int root, char *path, long long max);

/* snap_path[0..len) names the folder open at dfd (empty: the root) */
static void snap_walk(int dfd, size_t len) {
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        if (len) snap_record(len, "!");
        return;
    }
    struct dirent *e;
    while ((errno = 0, e = readdir(d))) {
        const char *name = e->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]))) continue;
        if (snap_git_name(name)) continue;
        size_t nl = strlen(name), at = len ? len + 1 : 0;
        if (at + nl + 1 >= PATH_BUF) {     /* deeper than we can name: not read */
            snap_path[len] = 0;
            if (len) snap_record(len, "!");
            continue;
        }
        if (len) snap_path[len] = '/';
        memcpy(snap_path + at, name, nl + 1);
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) snap_record(at + nl, "!");
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            int fd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0) snap_walk(fd, at + nl);
            else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP) snap_record(at + nl, "!");
        } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
            snap_signature(at + nl, &st);
        }
    }
    int failed = errno != 0;
    closedir(d);
    snap_path[len] = 0;
    if (failed && len) snap_record(len, "!");
}

static int snap_list(const char *dir, long long since, long long max) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snap_start = snap_ns(now);
    snap_horizon = snap_start - RACY_NS;
    snap_since = since;
    snap_max = max;
    snap_inline_left = INLINE_BYTES;
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) { dprintf(2, "agentorch-supervisor: %s: %s\n", dir, strerror(errno)); return 2; }
    static char obuf[1 << 18];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    snap_path[0] = 0;
    snap_walk(root, 0);                       /* closes root */
    fwrite("\0end\0", 1, 5, stdout);
    printf("%lld%c", snap_start, 0);
    if (snap_inline_len && (root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
        for (size_t at = 0; at < snap_inline_len; at += strlen(snap_inline + at) + 1)
            snap_read_one(root, snap_inline + at, max);
        close(root);
    }
    return fflush(stdout) == 0 ? 0 : 3;
}

static void snap_answer(const char *path, const char *kind, unsigned mode, const char *data, size_t n) {
    printf("%s%c%s%c%o%c%zu%c", path, 0, kind, 0, mode, 0, n, 0);
    if (n) fwrite(data, 1, n, stdout);
}

static void snap_error(const char *path, int err) {
    char kind[16];
    snprintf(kind, sizeof kind, "e%d", err);
    snap_answer(path, kind, 0, NULL, 0);
}

/* The folder holding `path` (relative), opened one component at a time without
 * following a symlink; its last component in *last.  -1 and errno if it cannot be. */
static int snap_parent(int root, char *path, char **last) {
    int dfd = dup(root);
    char *part = path, *slash;
    while (dfd >= 0 && (slash = strchr(part, '/'))) {
        *slash = 0;
        int next = -1;
        if (!*part || !strcmp(part, ".") || !strcmp(part, "..")) errno = EINVAL;
        else next = openat(dfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        int err = errno;
        close(dfd);
        errno = err;
        dfd = next;
        part = slash + 1;
    }
    if (dfd >= 0 && (!*part || !strcmp(part, ".") || !strcmp(part, ".."))) {
        close(dfd);
        errno = EINVAL;
        return -1;
    }
    *last = part;
    return dfd;
}

static void snap_read_one(int root, char *path, long long max) {
    char *name;
    int dfd = snap_parent(root, path, &name);
    if (dfd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) snap_answer(path, "g", 0, NULL, 0);
        else snap_error(path, errno);
        return;
    }
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) snap_answer(path, "g", 0, NULL, 0);
        else snap_error(path, errno);
        close(dfd);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(dfd, name, target, sizeof target);
        if (n < 0) snap_error(path, errno);
        else snap_answer(path, "l", (unsigned)st.st_mode, target, (size_t)n);
        close(dfd);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        snap_answer(path, "g", 0, NULL, 0);
        close(dfd);
        return;
    }
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int err = errno;
    close(dfd);
    if (fd < 0) {
        if (err == ENOENT || err == ELOOP) snap_answer(path, "g", 0, NULL, 0);
        else snap_error(path, err);
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snap_answer(path, "g", 0, NULL, 0);
        close(fd);
        return;
    }
    if (st.st_size > max) {
        snap_answer(path, "s", (unsigned)st.st_mode, NULL, 0);
        close(fd);
        return;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *data = malloc(cap);
    ssize_t r = 0;
    while (data && (r = read(fd, data + len, cap - len)) > 0) {
        len += (size_t)r;
        if ((long long)len > max) break;            /* grew while read */
        if (len == cap) {
            char *more = realloc(data, cap * 2);
            if (!more) { free(data); data = NULL; break; }
            data = more;
            cap *= 2;
        }
    }
    if (!data) snap_error(path, ENOMEM);
    else if (r < 0) snap_error(path, errno);
    else if ((long long)len > max) snap_answer(path, "s", (unsigned)st.st_mode, NULL, 0);
    else snap_answer(path, "f", (unsigned)st.st_mode, data, len);
    free(data);
    close(fd);
}

static int snap_read(const char *dir, long long max) {
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) { dprintf(2, "agentorch-supervisor: %s: %s\n", dir, strerror(errno)); return 2; }
    static char obuf[1 << 18];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    size_t cap = 4096, len = 0;
    char *in = malloc(cap);
    ssize_t r;
    while (in && (r = read(0, in + len, cap - len)) > 0) {
        len += (size_t)r;
        if (len == cap) {
            char *more = realloc(in, cap * 2);
            if (!more) { free(in); in = NULL; break; }
            in = more;
            cap *= 2;
        }
    }
    if (!in) return 4;
    for (size_t at = 0; at < len;) {
        char *path = in + at;
        size_t n = strnlen(path, len - at);
        if (at + n >= len) break;                     /* unterminated: ignored */
        if (n) snap_read_one(root, path, max);
        at += n + 1;
    }
    free(in);
    return fflush(stdout) == 0 ? 0 : 3;
}

/* `supervisor --list DIR` / `--read DIR MAX`: the exit code, or -1 if not such a call */
static int snapshot_main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--list") == 0) return snap_list(argv[2], -1, 0);
    if (argc == 5 && strcmp(argv[1], "--list") == 0)
        return snap_list(argv[2], atoll(argv[3]), atoll(argv[4]));
    if (argc == 4 && strcmp(argv[1], "--read") == 0) return snap_read(argv[2], atoll(argv[3]));
    return -1;
}
