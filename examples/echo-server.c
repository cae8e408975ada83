/* SPDX-License-Identifier: MIT */
/*
 * A TCP echo server: one coroutine accepts, one more per connection echoes.
 * Each of them is written as if it blocked; coop_accept, coop_read and
 * coop_write only suspend the calling coroutine, and the thread's loop
 * (coop_loop_run) enters it again once its socket is ready.
 *
 *   examples/echo-server [PORT] [--exit-after N]
 *
 * PORT defaults to 7777 on 127.0.0.1.  With --exit-after N the server stops
 * accepting after N connections and exits once they have all closed, so it
 * can run unattended next to examples/echo-client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <coop-loop.h>

static long connections_left = -1;      /* -1: accept forever */

/* One per client: echo until the client closes its end (read returns 0). */
static void echo(void *opaque)
{
    int fd = (int)(intptr_t)opaque;
    char buf[4096];
    ssize_t n;

    while ((n = coop_read(fd, buf, sizeof(buf), -1)) > 0) {
        if (coop_write(fd, buf, (size_t)n, -1) < 0) {
            perror("echo-server: write");
            break;
        }
    }
    if (n < 0)
        perror("echo-server: read");
    close(fd);
}

static void acceptor(void *opaque)
{
    int listener = (int)(intptr_t)opaque;

    while (connections_left != 0) {
        int fd = coop_accept(listener, NULL, NULL, -1);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;               /* the client gave up; not our fault */
            perror("echo-server: accept");
            break;
        }
        coop_t *co = coop_create(echo, (void *)(intptr_t)fd);
        if (!co) {
            perror("echo-server: coop_create");
            close(fd);
            continue;
        }
        /* Runs the new coroutine up to its first wait; it comes back to
         * us then, and from then on the loop enters it when it is ready. */
        coop_enter(co);
        if (connections_left > 0)
            connections_left--;
    }
    close(listener);                    /* nobody waits on it any more */
}

int main(int argc, char **argv)
{
    int port = 7777;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exit-after") == 0 && i + 1 < argc)
            connections_left = atol(argv[++i]);
        else if (argv[i][0] != '-')
            port = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: %s [PORT] [--exit-after N]\n", argv[0]);
            return 2;
        }
    }

    /* Non-blocking, so that coop_accept waits in the loop, not in accept. */
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) {
        perror("echo-server: socket");
        return 1;
    }
    int on = 1;             /* restart at once without waiting out TIME_WAIT */
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(listener, SOMAXCONN) < 0) {
        fprintf(stderr, "echo-server: port %d: %s\n", port, strerror(errno));
        return 1;
    }

    coop_t *co = coop_create(acceptor, (void *)(intptr_t)listener);
    if (!co) {
        perror("echo-server: coop_create");
        return 1;
    }
    printf("echo-server: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    coop_enter(co);         /* runs until it waits for the first client */

    /* Returns when no coroutine waits any more: with --exit-after, once the
     * acceptor has stopped and every connection has closed. */
    coop_loop_run();
    return 0;
}
