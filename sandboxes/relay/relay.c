/*
 * agentorch relay: the sandbox's only way to the engine's services without a network.
 *
 *   relay PORT:SOCKET [PORT:SOCKET ...]
 *
 * Listens on 127.0.0.1:PORT inside the container (which has no network of its own)
 * and forwards every connection, byte for byte in both directions, to the Unix socket
 * SOCKET (bind-mounted from the host: the run's egress proxy, an agent's MCP socket).
 * It understands nothing of what it carries: the engine side decides everything, and
 * knows which agent speaks from the socket the bytes arrive on.
 *
 * Once every listener is bound, it detaches (the parent exits 0, so whoever started it
 * knows it is ready) and runs on as a child of the container's init.  Started as its
 * own user, the sandbox user can neither kill it nor have the supervisor's sweep do so.
 * One thread, poll(), fixed buffers, at most MAX_CONNS connections.  Built static.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTEN 8
#define MAX_CONNS 256
#define BUF 65536

struct half { char data[BUF]; size_t len, off; int eof, shut; };
struct conn { int used, tcp, unx; struct half up, down; };  /* up: tcp -> unix */

static int listeners[MAX_LISTEN];
static char paths[MAX_LISTEN][108];
static int n_listen;
static struct conn conns[MAX_CONNS];

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void drop(struct conn *c) {
    close(c->tcp);
    close(c->unx);
    c->used = 0;
}

static void accept_one(int i) {
    int fd = accept4(listeners[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    struct conn *c = NULL;
    for (int k = 0; k < MAX_CONNS; k++) if (!conns[k].used) { c = &conns[k]; break; }
    int u = c ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, paths[i], sizeof sa.sun_path - 1);
    if (u < 0 || connect(u, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (u >= 0) close(u);
        close(fd);   /* the client sees the connection close: the service is not there */
        return;
    }
    nonblock(u);
    memset(c, 0, sizeof *c);
    c->used = 1;
    c->tcp = fd;
    c->unx = u;
}

/* Move bytes of one direction; returns -1 when the connection broke. */
static int pump(struct half *h, int from, int to, short rev_from, short rev_to) {
    if ((rev_from & (POLLIN | POLLHUP | POLLERR)) && !h->eof && h->len == 0) {
        ssize_t r = read(from, h->data, BUF);
        if (r > 0) { h->len = (size_t)r; h->off = 0; }
        else if (r == 0 || (errno != EAGAIN && errno != EINTR)) h->eof = 1;
    }
    (void)rev_to;  /* writes are tried whenever bytes wait: EAGAIN just waits for POLLOUT */
    if (h->len > h->off) {
        ssize_t w = write(to, h->data + h->off, h->len - h->off);
        if (w > 0) { h->off += (size_t)w; if (h->off == h->len) h->len = h->off = 0; }
        else if (w < 0 && errno != EAGAIN && errno != EINTR) return -1;
    }
    if (h->eof && h->len == 0 && !h->shut) { shutdown(to, SHUT_WR); h->shut = 1; }
    return 0;
}

int main(int argc, char **argv) {
    prctl(PR_SET_DUMPABLE, 0);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc && n_listen < MAX_LISTEN; i++) {
        char *colon = strchr(argv[i], ':');
        if (!colon || strlen(colon + 1) >= sizeof paths[0]) { fprintf(stderr, "relay: bad argument %s\n", argv[i]); return 2; }
        int port = atoi(argv[i]);
        strcpy(paths[n_listen], colon + 1);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof in) < 0 || listen(fd, 128) < 0) {
            fprintf(stderr, "relay: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
            return 1;
        }
        listeners[n_listen++] = fd;
    }
    if (!n_listen) { fprintf(stderr, "usage: relay PORT:SOCKET...\n"); return 2; }
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) return 0;   /* ready: every port is bound */
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); if (null > 2) close(null); }
    static struct pollfd fds[MAX_LISTEN + 2 * MAX_CONNS];
    static int owner[MAX_LISTEN + 2 * MAX_CONNS];
    for (;;) {
        int n = 0;
        for (int i = 0; i < n_listen; i++) { fds[n] = (struct pollfd){listeners[i], POLLIN, 0}; owner[n++] = -1 - i; }
        for (int k = 0; k < MAX_CONNS; k++) {
            struct conn *c = &conns[k];
            if (!c->used) continue;
            short ev_tcp = 0, ev_unx = 0;
            if (!c->up.eof && c->up.len == 0) ev_tcp |= POLLIN;
            if (c->up.len) ev_unx |= POLLOUT;
            if (!c->down.eof && c->down.len == 0) ev_unx |= POLLIN;
            if (c->down.len) ev_tcp |= POLLOUT;
            /* an fd we wait nothing from is left out (negative): a hung-up peer whose
             * bytes still wait for the other side would otherwise wake us in a loop */
            fds[n] = (struct pollfd){ev_tcp ? c->tcp : -1, ev_tcp, 0}; owner[n++] = k;
            fds[n] = (struct pollfd){ev_unx ? c->unx : -1, ev_unx, 0}; owner[n++] = k;
        }
        if (poll(fds, (nfds_t)n, -1) < 0) { if (errno == EINTR) continue; return 1; }
        for (int j = 0; j < n; j++) {
            if (owner[j] < 0) { if (fds[j].revents & POLLIN) accept_one(-1 - owner[j]); continue; }
            if (j + 1 >= n || owner[j + 1] != owner[j]) continue;
            struct conn *c = &conns[owner[j]];
            short rt = fds[j].revents, ru = fds[j + 1].revents;
            j++;
            if (!c->used || !(rt | ru)) continue;
            if (pump(&c->up, c->tcp, c->unx, rt, ru) < 0 || pump(&c->down, c->unx, c->tcp, ru, rt) < 0) { drop(c); continue; }
            if (c->up.shut && c->down.shut) drop(c);
        }
    }
}
