/* SPDX-License-Identifier: MIT */
/*
 * Companion of echo-server: N clients, each a coroutine with its own
 * connection, send M messages each and check that every one comes back
 * unchanged.  They all run at once in one thread; the loop interleaves them.
 *
 *   examples/echo-client [PORT] [--clients N] [--messages M]
 *
 * Defaults: port 7777, 10 clients, 100 messages.  Exits 0 when every
 * message came back, 1 otherwise.  A client that finds no server retries
 * for a few seconds, so `echo-server ... & echo-client` needs no sleep.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <coop-loop.h>

#define TIMEOUT_NS  (5 * 1000000000LL)  /* a silent server is a failure */
#define RETRY_NS    (50 * 1000000LL)
#define RETRIES     100

struct client {
    int id;
    int port;
    int messages;
    int echoed;             /* messages that came back intact */
    const char *failure;    /* what went wrong first, NULL if nothing */
};

static int connect_to(struct client *c)
{
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)c->port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };

    for (int attempt = 0; attempt < RETRIES; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (coop_connect(fd, (struct sockaddr *)&addr, sizeof(addr),
                         TIMEOUT_NS) == 0)
            return fd;
        int err = errno;
        close(fd);          /* a failed socket cannot be connected again */
        if (err != ECONNREFUSED) {
            errno = err;
            return -1;
        }
        coop_sleep_ns(RETRY_NS);    /* the server may not be up yet */
    }
    errno = ECONNREFUSED;
    return -1;
}

/* Reads exactly len bytes: TCP may hand back a message in pieces. */
static int read_all(int fd, char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = coop_read(fd, buf, len, TIMEOUT_NS);
        if (n <= 0) {
            if (n == 0)
                errno = ECONNRESET;     /* closed before the echo was done */
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void client(void *opaque)
{
    struct client *c = opaque;
    char msg[64], echo[64];

    int fd = connect_to(c);
    if (fd < 0) {
        c->failure = strerror(errno);
        return;
    }
    for (int i = 0; i < c->messages; i++) {
        int len = snprintf(msg, sizeof(msg), "client %d message %d\n", c->id, i);
        if (coop_write(fd, msg, (size_t)len, TIMEOUT_NS) < 0 ||
            read_all(fd, echo, (size_t)len) < 0) {
            c->failure = strerror(errno);
            break;
        }
        if (memcmp(msg, echo, (size_t)len) != 0) {
            c->failure = "echo differs from what was sent";
            break;
        }
        c->echoed++;
    }
    close(fd);              /* the server sees end of file and finishes */
}

int main(int argc, char **argv)
{
    int port = 7777, nclients = 10, messages = 100;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            nclients = atoi(argv[++i]);
        else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
            messages = atoi(argv[++i]);
        else if (argv[i][0] != '-')
            port = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: %s [PORT] [--clients N] [--messages M]\n",
                    argv[0]);
            return 2;
        }
    }

    struct client *clients = calloc((size_t)nclients, sizeof(*clients));
    if (!clients) {
        perror("echo-client");
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* Start them all; each runs until its first wait and the loop takes
     * over from there. */
    for (int i = 0; i < nclients; i++) {
        clients[i] = (struct client){ .id = i, .port = port, .messages = messages };
        coop_t *co = coop_create(client, &clients[i]);
        if (!co) {
            perror("echo-client: coop_create");
            return 1;
        }
        coop_enter(co);
    }
    coop_loop_run();        /* returns once every client has finished */

    clock_gettime(CLOCK_MONOTONIC, &t1);
    long echoed = 0;
    int failed = 0;
    for (int i = 0; i < nclients; i++) {
        echoed += clients[i].echoed;
        if (clients[i].failure || clients[i].echoed != messages) {
            if (failed++ == 0)
                fprintf(stderr, "echo-client: client %d: %s\n", i,
                        clients[i].failure ? clients[i].failure : "incomplete");
        }
    }
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("echo-client: %d clients x %d messages: %ld echoed, %d clients "
           "failed, %.1f ms\n", nclients, messages, echoed, failed, ms);
    free(clients);
    return failed == 0 ? 0 : 1;
}
