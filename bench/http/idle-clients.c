/* SPDX-License-Identifier: MIT */
/*
 * Idle keep-alive connections for the HTTP benchmark's memory measurement.
 * Opens N connections to 127.0.0.1:PORT one after another (blocking
 * sockets), sends one request on each and reads its whole reply, then
 * keeps them all open: prints "ready N" on stdout and waits until stdin
 * reaches end of file (or a signal ends it).  The connections are closed
 * with SO_LINGER 0 (a reset), so no TIME_WAIT is left behind to use up the
 * local ports across runs.
 *
 * usage: idle-clients PORT N
 * exit status: 0 when all N got their answer; 1 otherwise ("failed ..."
 * on stderr).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char request[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: idle-clients\r\n\r\n";

/* Read one response: headers, then Content-Length bytes of body. */
static int read_reply(int fd)
{
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            if (len == sizeof buf - 1)
                return -1;
            continue;
        }
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
            return -1;
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t body = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        size_t want = (size_t)(end + 4 - buf) + body;
        if (len >= want)
            return 0;
        if (want > sizeof buf - 1)
            return -1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT N\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long n = atol(argv[2]);
    if (port <= 0 || n <= 0)
        return 2;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t need = (rlim_t)n + 64;
        if (rl.rlim_cur < need) {
            struct rlimit want = rl;
            want.rlim_cur = need;
            if (want.rlim_max < need)
                want.rlim_max = need;   /* needs CAP_SYS_RESOURCE */
            if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
                rl.rlim_cur = rl.rlim_max;      /* as far as we may */
                setrlimit(RLIMIT_NOFILE, &rl);
                if (rl.rlim_max < need)
                    fprintf(stderr, "idle-clients: RLIMIT_NOFILE hard "
                            "limit %llu < %llu needed\n",
                            (unsigned long long)rl.rlim_max,
                            (unsigned long long)need);
            }
        }
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    int *fds = calloc((size_t)n, sizeof *fds);
    if (fds == NULL)
        return 1;
    long ok = 0;
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            perror("socket");
            break;
        }
        struct timeval tv = { .tv_sec = 5 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        fds[i] = fd;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            fprintf(stderr, "failed: connect %ld: %s\n", i, strerror(errno));
            break;
        }
        if (write(fd, request, sizeof request - 1)
            != (ssize_t)(sizeof request - 1)) {
            fprintf(stderr, "failed: write %ld: %s\n", i, strerror(errno));
            break;
        }
        errno = 0;
        if (read_reply(fd) < 0) {
            fprintf(stderr, "failed: reply %ld: %s\n", i,
                    errno ? strerror(errno) : "bad or closed");
            break;
        }
        ok++;
    }
    printf("ready %ld\n", ok);
    fflush(stdout);

    char c;
    while (read(0, &c, 1) > 0)
        ;
    for (long i = 0; i < n; i++)
        if (fds[i] > 0)
            close(fds[i]);
    return ok == n ? 0 : 1;
}
