/*
 * agentorch sandbox supervisor: one per container, started over one `docker exec`
 * with stdin attached.  It runs the engine's commands and streams their output
 * back over that single stream, so a command costs a fork and an exec inside the
 * container instead of three Docker API calls.
 *
 * Frames, both directions: type (1 byte) | id (4 bytes, big endian) |
 * length (4 bytes, big endian) | payload.
 *
 *   engine -> supervisor
 *     'R' run     payload: NUL-terminated strings: flags, timeout_ms, cwd, argc,
 *                 argv..., env...   (flags: 'm' merge stderr into stdout,
 *                 'i' stdin comes in 'I' frames, else /dev/null)
 *     'I' input   bytes for the command's stdin        'E' end of its stdin
 *     'K' kill    SIGKILL the command's process group  'P' ping (answered 'P')
 *     'S' sweeps  payload "0": hold the idle sweep (a person's shell is open in the
 *                 sandbox, as the same user); "1": sweep again (and at once if idle)
 *   supervisor -> engine
 *     'O' output (stdout, or merged)   'e' stderr (when not merged)
 *     'X' exit    payload: exit code (4 bytes, signed) | flags (1 byte: 1 timed out,
 *                 2 killed on request, 4 could not start)
 *     'P' pong    payload: "pid=N"
 *
 * Every command gets a fresh `execve` with exactly the environment it was sent,
 * its own session and process group (so a timeout or a kill takes the whole
 * tree), and when no command is running any more every other process this user
 * can signal, except the ones named on the command line (the container's own
 * init and main process), is killed: nothing a command started outlives it, not
 * even what it detached with setsid or a double fork.  Nothing here writes to
 * the file system.  Built static (gcc -static), it runs in any image.
 *
 * The same binary lists and reads the workspace for checkpoints when started as
 * `supervisor --list DIR` or `--read DIR MAX` (snapshot.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.c"

#define MAX_CMDS 64
#define MAX_EXEMPT 16
#define CHUNK 32768
#define OUT_HIGH (1 << 20)       /* stop reading commands while this much waits for the engine */
#define MAX_FRAME (64 << 20)
#define DRAIN_MS 200             /* after exit, wait this long for detached holders of the pipe */

enum { F_TIMED_OUT = 1, F_KILLED = 2, F_NOSTART = 4 };

struct buf { char *data; size_t len, off, cap; };

struct cmd {
    int used;
    uint32_t id;
    pid_t pid;
    int out_fd, err_fd, in_fd;
    int exited, status, flags;
    int in_eof;
    long long deadline, drain_until;
    struct buf in;
};

static struct cmd cmds[MAX_CMDS];
static struct buf out;           /* frames waiting for the engine */
static struct buf req;           /* bytes read from the engine */
static pid_t exempt[MAX_EXEMPT];
static int n_exempt;
static int sig_pipe[2];
static int input_closed;
static int subreaper;            /* local mode: we adopt orphans and kill only our descendants */
static int sweeping = 1;         /* held while the person has a shell in the sandbox */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what) {
    dprintf(2, "agentorch-supervisor: %s: %s\n", what, strerror(errno));
    _exit(70);
}

static void buf_add(struct buf *b, const void *data, size_t n) {
    if (b->off && b->off == b->len) b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off) {
            memmove(b->data, b->data + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 65536;
            while (cap < b->len + n) cap *= 2;
            char *p = realloc(b->data, cap);
            if (!p) die("out of memory");
            b->data = p;
            b->cap = cap;
        }
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static size_t buf_size(const struct buf *b) { return b->len - b->off; }

static void put32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void frame(char type, uint32_t id, const void *data, size_t n) {
    unsigned char h[9];
    h[0] = (unsigned char)type;
    put32(h + 1, id);
    put32(h + 5, (uint32_t)n);
    buf_add(&out, h, 9);
    if (n) buf_add(&out, data, n);
}

static void set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void on_sigchld(int sig) {
    (void)sig;
    int e = errno;
    ssize_t r = write(sig_pipe[1], "c", 1);
    (void)r;
    errno = e;
}

static struct cmd *find(uint32_t id) {
    for (int i = 0; i < MAX_CMDS; i++)
        if (cmds[i].used && cmds[i].id == id) return &cmds[i];
    return NULL;
}

static int active_count(void) {
    int n = 0;
    for (int i = 0; i < MAX_CMDS; i++) n += cmds[i].used;
    return n;
}

static int is_exempt(pid_t pid) {
    if (pid == 1 || pid == getpid()) return 1;
    for (int i = 0; i < n_exempt; i++)
        if (exempt[i] == pid) return 1;
    return 0;
}

/* State letter and parent of a process, from /proc/PID/stat; 0 if it is gone. */
static int read_stat(long pid, char *state, int *ppid) {
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0) return 0;
    stat[n] = 0;
    char *paren = strrchr(stat, ')');   /* the name may hold spaces and parentheses */
    return paren && sscanf(paren + 1, " %c %d", state, ppid) == 2;
}

/* First session after the container started: its main process is pid 1's child. */
static void exempt_children_of_init(void) {
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && n_exempt < MAX_EXEMPT) {
        char *end, state;
        int ppid;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == getpid()) continue;
        if (read_stat(pid, &state, &ppid) && ppid == 1) exempt[n_exempt++] = (pid_t)pid;
    }
    closedir(d);
}

static pid_t parent_of(long pid) {
    char state;
    int ppid;
    return read_stat(pid, &state, &ppid) ? (pid_t)ppid : 0;
}

/* Local mode: orphans were reparented to us (a child subreaper); kill our children
 * until none is left (killing one hands its own children to us). */
static void sweep_descendants(void) {
    for (int round = 0; round < 64; round++) {
        DIR *d = opendir("/proc");
        if (!d) return;
        int found = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            char *end;
            long pid = strtol(e->d_name, &end, 10);
            if (*end || pid <= 1 || parent_of(pid) != getpid()) continue;
            kill((pid_t)pid, SIGKILL);
            found++;
        }
        closedir(d);
        int status;
        while (waitpid(-1, &status, WNOHANG) > 0) {}
        if (!found) return;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* Alive and not a zombie (a zombie is dead: its parent just has not reaped it yet). */
static int running(long pid) {
    char state;
    int ppid;
    return read_stat(pid, &state, &ppid) && state != 'Z' && state != 'X';
}

/* No command runs: kill every process we may signal but our own machinery, and wait
 * (briefly) until they are gone, so the next command never sees them. */
static void sweep(void) {
    if (!sweeping) return;
    if (subreaper) { sweep_descendants(); return; }
    for (int round = 0; round < 50; round++) {
        DIR *d = opendir("/proc");
        if (!d) return;
        int alive = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            char *end;
            long pid = strtol(e->d_name, &end, 10);
            if (*end || pid <= 0 || is_exempt((pid_t)pid)) continue;
            if (kill((pid_t)pid, SIGKILL) == 0 && running(pid)) alive++;
        }
        closedir(d);
        if (!alive) return;
        /* dying, or a fork in flight made new ones: look again in 2 ms (at most ~100 ms) */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void finish(struct cmd *c) {
    unsigned char p[5];
    int code;
    if (WIFEXITED(c->status)) code = WEXITSTATUS(c->status);
    else if (WIFSIGNALED(c->status)) code = 128 + WTERMSIG(c->status);
    else code = -1;
    if (c->flags & F_NOSTART) code = 127;
    uint32_t id = c->id;
    int flags = c->flags;
    close_fd(&c->out_fd);
    close_fd(&c->err_fd);
    close_fd(&c->in_fd);
    free(c->in.data);
    memset(c, 0, sizeof *c);
    c->out_fd = c->err_fd = c->in_fd = -1;
    /* the last command ended: what it left dies before anyone hears it ended */
    if (!active_count()) sweep();
    put32(p, (uint32_t)code);
    p[4] = (unsigned char)flags;
    frame('X', id, p, 5);
}

static void kill_cmd(struct cmd *c, int flag) {
    c->flags |= flag;
    if (c->pid > 0) {
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
    }
}

static void start_cmd(uint32_t id, char *p, size_t n) {
    /* flags, timeout_ms, cwd, argc, argv..., env... : every string NUL-terminated */
    char *fields[4096];
    int nf = 0;
    size_t i = 0;
    while (i < n && nf < 4095) {
        fields[nf++] = p + i;
        size_t len = strnlen(p + i, n - i);
        if (i + len >= n) break;   /* unterminated: ignored */
        i += len + 1;
    }
    struct cmd *c = NULL;
    for (int k = 0; k < MAX_CMDS; k++)
        if (!cmds[k].used) { c = &cmds[k]; break; }
    if (nf < 5 || !c || find(id)) {
        const char *msg = !c ? "agentorch: too many commands at once in this sandbox\n"
                             : "agentorch: malformed run request\n";
        unsigned char x[5];
        put32(x, 126);
        x[4] = F_NOSTART;
        frame('O', id, msg, strlen(msg));
        frame('X', id, x, 5);
        return;
    }
    const char *flags = fields[0];
    long long timeout = atoll(fields[1]);
    const char *cwd = fields[2];
    int argc = atoi(fields[3]);
    if (argc < 1 || 4 + argc > nf) argc = 0;
    char *argv[4096];
    char *envp[4096];
    int a = 0, e = 0;
    for (int k = 0; k < argc; k++) argv[a++] = fields[4 + k];
    argv[a] = NULL;
    for (int k = 4 + argc; k < nf; k++) envp[e++] = fields[k];
    envp[e] = NULL;
    int merge = strchr(flags, 'm') != NULL;
    int has_in = strchr(flags, 'i') != NULL;

    memset(c, 0, sizeof *c);
    c->used = 1;
    c->id = id;
    c->out_fd = c->err_fd = c->in_fd = -1;
    int op[2] = {-1, -1}, ep[2] = {-1, -1}, ip[2] = {-1, -1};
    if (pipe2(op, O_CLOEXEC) < 0 || (!merge && pipe2(ep, O_CLOEXEC) < 0) ||
        (has_in && pipe2(ip, O_CLOEXEC) < 0) || argc == 0) {
        const char *msg = argc ? "agentorch: could not create pipes\n" : "agentorch: empty command\n";
        frame('O', id, msg, strlen(msg));
        c->flags |= F_NOSTART;
        for (int k = 0; k < 2; k++) { if (op[k] >= 0) close(op[k]); if (ep[k] >= 0) close(ep[k]); if (ip[k] >= 0) close(ip[k]); }
        finish(c);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        setsid();
        int devnull = open("/dev/null", O_RDWR);
        dup2(has_in ? ip[0] : devnull, 0);
        dup2(op[1], 1);
        dup2(merge ? op[1] : ep[1], 2);
        if (chdir(cwd) < 0 && chdir("/") < 0) _exit(126);
        execve(argv[0], argv, envp);
        dprintf(2, "agentorch: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(op[1]);
    if (ep[1] >= 0) close(ep[1]);
    if (ip[0] >= 0) close(ip[0]);
    c->out_fd = op[0];
    c->err_fd = merge ? -1 : ep[0];
    c->in_fd = has_in ? ip[1] : -1;
    if (c->out_fd >= 0) set_nonblock(c->out_fd);
    if (c->err_fd >= 0) set_nonblock(c->err_fd);
    if (c->in_fd >= 0) set_nonblock(c->in_fd);
    if (pid < 0) {
        const char *msg = "agentorch: cannot start the command (fork failed: out of processes or memory?)\n";
        frame('O', id, msg, strlen(msg));
        c->flags |= F_NOSTART;
        c->exited = 1;
        finish(c);
        return;
    }
    c->pid = pid;
    c->deadline = timeout > 0 ? now_ms() + timeout : 0;
}

static void handle_frame(char type, uint32_t id, char *p, size_t n) {
    struct cmd *c = find(id);
    switch (type) {
    case 'R': start_cmd(id, p, n); break;
    case 'I': if (c && c->in_fd >= 0 && !c->in_eof) buf_add(&c->in, p, n); break;
    case 'E': if (c) c->in_eof = 1; break;
    case 'K': if (c && !c->exited) kill_cmd(c, F_KILLED); break;
    case 'S':
        sweeping = n > 0 && p[0] == '1';
        if (sweeping && !active_count()) sweep();
        break;
    case 'P': {
        char pong[32 + 12 * MAX_EXEMPT];
        int len = snprintf(pong, sizeof pong, "pid=%d exempt=", (int)getpid());
        for (int k = 0; k < n_exempt; k++)
            len += snprintf(pong + len, sizeof pong - (size_t)len, k ? ",%d" : "%d", (int)exempt[k]);
        frame('P', id, pong, (size_t)len);
        break;
    }
    default: break;
    }
}

static void parse_requests(void) {
    for (;;) {
        size_t avail = buf_size(&req);
        unsigned char *h = (unsigned char *)req.data + req.off;
        if (avail < 9) return;
        uint32_t len = get32(h + 5);
        if (len > MAX_FRAME) { dprintf(2, "agentorch-supervisor: frame too large\n"); _exit(65); }
        if (avail < 9 + (size_t)len) return;
        handle_frame((char)h[0], get32(h + 1), (char *)h + 9, len);
        req.off += 9 + len;
    }
}

static void reap(void) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_CMDS; i++) {
            struct cmd *c = &cmds[i];
            if (c->used && c->pid == pid && !c->exited) {
                c->exited = 1;
                c->status = status;
                kill(-pid, SIGKILL);   /* what it left in its group dies with it */
                c->drain_until = now_ms() + DRAIN_MS;
            }
        }
    }
}

static int read_into_frames(int *fd, char type, uint32_t id) {
    char chunk[CHUNK];
    ssize_t r = read(*fd, chunk, sizeof chunk);
    if (r > 0) { frame(type, id, chunk, (size_t)r); return 1; }
    if (r == 0 || (errno != EAGAIN && errno != EINTR)) close_fd(fd);
    return 0;
}

int main(int argc, char **argv) {
    /* our /proc entries become root's: the agent cannot open our fds or ptrace us */
    prctl(PR_SET_DUMPABLE, 0);
    int snapshot = snapshot_main(argc, argv);
    if (snapshot >= 0) return snapshot;
    if (argc > 1 && strcmp(argv[1], "--subreaper") == 0) {
        subreaper = 1;
        prctl(PR_SET_CHILD_SUBREAPER, 1);
    } else if (argc > 1 && strcmp(argv[1], "auto") == 0) exempt_children_of_init();
    else {
        for (int i = 1; i < argc && n_exempt < MAX_EXEMPT; i++) exempt[n_exempt++] = (pid_t)atoi(argv[i]);
        /* a session after one that died: what ran under the old one goes now, not after
         * our first command */
        sweep();
    }
    for (int i = 0; i < MAX_CMDS; i++) cmds[i].out_fd = cmds[i].err_fd = cmds[i].in_fd = -1;
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) die("pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    set_nonblock(0);
    set_nonblock(1);
    fcntl(0, F_SETFD, FD_CLOEXEC);
    fcntl(1, F_SETFD, FD_CLOEXEC);
    fcntl(2, F_SETFD, FD_CLOEXEC);

    struct pollfd pf[2 + 3 * MAX_CMDS];
    struct cmd *owner[2 + 3 * MAX_CMDS];
    int role[2 + 3 * MAX_CMDS];
    for (;;) {
        int n = 0;
        long long now = now_ms();
        long long wake = -1;
        pf[n].fd = sig_pipe[0]; pf[n].events = POLLIN; owner[n] = NULL; role[n++] = 0;
        if (!input_closed) { pf[n].fd = 0; pf[n].events = POLLIN; owner[n] = NULL; role[n++] = 1; }
        if (buf_size(&out)) { pf[n].fd = 1; pf[n].events = POLLOUT; owner[n] = NULL; role[n++] = 2; }
        int room = buf_size(&out) < OUT_HIGH;
        for (int i = 0; i < MAX_CMDS; i++) {
            struct cmd *c = &cmds[i];
            if (!c->used) continue;
            if (room && c->out_fd >= 0) { pf[n].fd = c->out_fd; pf[n].events = POLLIN; owner[n] = c; role[n++] = 3; }
            if (room && c->err_fd >= 0) { pf[n].fd = c->err_fd; pf[n].events = POLLIN; owner[n] = c; role[n++] = 4; }
            if (c->in_fd >= 0 && (buf_size(&c->in) || c->in_eof)) {
                pf[n].fd = c->in_fd; pf[n].events = POLLOUT; owner[n] = c; role[n++] = 5;
            }
            long long t = -1;
            if (c->deadline && !c->exited) t = c->deadline;
            if (c->exited && c->drain_until) t = c->drain_until;
            if (t >= 0) {
                long long d = t > now ? t - now : 0;
                if (wake < 0 || d < wake) wake = d;
            }
        }
        if (input_closed && !active_count() && !buf_size(&out)) break;
        int r = poll(pf, (nfds_t)n, (int)(wake < 0 ? -1 : wake));
        if (r < 0 && errno != EINTR) die("poll");
        for (int k = 0; r > 0 && k < n; k++) {
            if (!pf[k].revents) continue;
            struct cmd *c = owner[k];
            switch (role[k]) {
            case 0: {
                char drain[64];
                while (read(sig_pipe[0], drain, sizeof drain) > 0) {}
                reap();
                break;
            }
            case 1: {
                char chunk[65536];
                ssize_t got = read(0, chunk, sizeof chunk);
                if (got > 0) { buf_add(&req, chunk, (size_t)got); parse_requests(); }
                else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    input_closed = 1;   /* the engine is gone: stop everything */
                    for (int i = 0; i < MAX_CMDS; i++) if (cmds[i].used) kill_cmd(&cmds[i], F_KILLED);
                }
                break;
            }
            case 2: {
                ssize_t w = write(1, out.data + out.off, buf_size(&out));
                if (w > 0) out.off += (size_t)w;
                else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    out.off = out.len = 0;   /* nobody listens any more */
                    input_closed = 1;
                    for (int i = 0; i < MAX_CMDS; i++) if (cmds[i].used) kill_cmd(&cmds[i], F_KILLED);
                }
                break;
            }
            case 3: if (c->used && c->out_fd == pf[k].fd) read_into_frames(&c->out_fd, 'O', c->id); break;
            case 4: if (c->used && c->err_fd == pf[k].fd) read_into_frames(&c->err_fd, 'e', c->id); break;
            case 5:
                if (!c->used || c->in_fd != pf[k].fd) break;
                if (buf_size(&c->in)) {
                    ssize_t w = write(c->in_fd, c->in.data + c->in.off, buf_size(&c->in));
                    if (w > 0) c->in.off += (size_t)w;
                    else if (w < 0 && errno != EAGAIN && errno != EINTR) close_fd(&c->in_fd);
                } else if (c->in_eof) {
                    close_fd(&c->in_fd);
                }
                if (c->in_fd >= 0 && c->in_eof && !buf_size(&c->in)) close_fd(&c->in_fd);
                break;
            }
        }
        /* a SIGCHLD may land between poll and here; reap is cheap */
        reap();
        now = now_ms();
        for (int i = 0; i < MAX_CMDS; i++) {
            struct cmd *c = &cmds[i];
            if (!c->used) continue;
            if (c->deadline && !c->exited && now >= c->deadline) kill_cmd(c, F_TIMED_OUT);
            int pipes_done = c->out_fd < 0 && c->err_fd < 0;
            if (c->exited && (pipes_done || now >= c->drain_until)) {
                /* drain what is already there, then stop waiting for detached holders */
                for (int j = 0; j < 64 && c->out_fd >= 0 && read_into_frames(&c->out_fd, 'O', c->id); j++) {}
                for (int j = 0; j < 64 && c->err_fd >= 0 && read_into_frames(&c->err_fd, 'e', c->id); j++) {}
                finish(c);
            }
        }
    }
    sweep();
    /* flush what is left, blocking */
    int fl = fcntl(1, F_GETFL);
    fcntl(1, F_SETFL, fl & ~O_NONBLOCK);
    while (buf_size(&out)) {
        ssize_t w = write(1, out.data + out.off, buf_size(&out));
        if (w <= 0) break;
        out.off += (size_t)w;
    }
    return 0;
}
