/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 keep-alive benchmark server on libcoop's loop (coop-loop.h):
 * a non-blocking listening socket, an acceptor coroutine in coop_accept(),
 * one coroutine per connection in coop_read() / coop_write(), and
 * coop_loop_run() in main.  Connection coroutines get 16 KiB stacks
 * (coop_attr_t stack_size) and keep their request buffer on the stack, so
 * an idle connection costs the stack pages it touched and the loop's own
 * bookkeeping.
 *
 * Built with -DHTTP_COOP_WAIT_FIRST=1 (run.sh's "coop-wait" server), a
 * connection that has answered everything it got waits with coop_fd_wait()
 * before reading again, instead of letting coop_read() find out with a
 * read() that fails with EAGAIN: a client that does not pipeline cannot
 * have sent its next request before it got the answer, so that read
 * nearly always fails.  This is there to measure what the failing read
 * costs; the plain server is the one the comparison is about.
 *
 * usage: http-coop PORT
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>

#include <coop-loop.h>

#include "http-common.h"

#define STACK_SIZE 16384

/* The request buffer on the connection's stack.  HTTP_COOP_BUF lets the
 * memory measurement try other sizes; the default is the other servers'. */
#ifndef HTTP_COOP_BUF
#define HTTP_COOP_BUF HTTP_BUF_SIZE
#endif
#ifndef HTTP_COOP_WAIT_FIRST
#define HTTP_COOP_WAIT_FIRST 0
#endif

static coop_attr_t conn_attr;

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[HTTP_COOP_BUF];
    size_t len = 0, scanned = 0;

    for (;;) {
        ssize_t r = coop_read(fd, buf + len, sizeof buf - len, -1);
        if (r <= 0)
            break;
        len += (size_t)r;
        size_t used;
        size_t n = http_scan(buf, len, &used, &scanned);
        len = http_compact(buf, len, used);
        if (n == 0) {
            if (len == sizeof buf)
                break;
            continue;
        }
        size_t out = n * HTTP_RESPONSE_LEN;
        if (coop_write(fd, http_responses, out, -1) != (ssize_t)out)
            break;
        if (HTTP_COOP_WAIT_FIRST && len == 0 && coop_fd_wait(fd, POLLIN, -1) < 0)
            break;
    }
    close(fd);
}

static void acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;

    for (;;) {
        int fd = coop_accept(lfd, NULL, NULL, -1);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("coop_accept");
            coop_sleep_ns(1000000);     /* e.g. EMFILE: back off */
            continue;
        }
        http_nodelay(fd);
        coop_t *co = coop_create_attr(&conn_attr, serve, (void *)(intptr_t)fd);
        if (co == NULL) {
            close(fd);
            continue;
        }
        /* Runs until its first coop_read() has to wait, then comes back
         * here; from then on the loop enters it. */
        coop_enter(co);
    }
}

int main(int argc, char **argv)
{
    int port = http_port(argc, argv);
    http_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    http_init_responses();

    coop_attr_init(&conn_attr);
    conn_attr.stack_size = STACK_SIZE;

    int lfd = http_listen(port, 1);
    if (coop_loop_self() == NULL) {
        perror("coop_loop_self");
        return 1;
    }
    coop_t *acc = coop_create(acceptor, (void *)(intptr_t)lfd);
    if (acc == NULL) {
        perror("coop_create");
        return 1;
    }
    coop_enter(acc);
    coop_loop_run();
    return 0;
}
