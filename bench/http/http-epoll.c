/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 keep-alive benchmark server: hand-written epoll callbacks, the
 * reference ("the limit").  One thread, level-triggered epoll, non-blocking
 * sockets, one malloc'd buffer per connection.  Each readiness event does
 * one read (level-triggered: no read until EAGAIN needed) and answers every
 * complete request of it with one write; when the socket is full the rest
 * of the answer waits for EPOLLOUT and reading stops until it is out.
 *
 * usage: http-epoll PORT
 */
#define _GNU_SOURCE
#include <sys/epoll.h>

#include "http-common.h"

struct conn {
    int      fd;
    uint32_t len;       /* bytes in buf */
    size_t   scanned;   /* of a partial request, already scanned */
    size_t   out_left;  /* response bytes still to send */
    size_t   out_off;   /* where they start in http_responses */
    char     buf[HTTP_BUF_SIZE];
};

static int ep;

static void conn_close(struct conn *c)
{
    close(c->fd);       /* also leaves the epoll set */
    free(c);
}

/* Send what is pending; 1 when all of it went, 0 when the socket is full,
 * -1 on error. */
static int conn_flush(struct conn *c)
{
    while (c->out_left > 0) {
        ssize_t w = write(c->fd, http_responses + c->out_off, c->out_left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->out_off += (size_t)w;
        c->out_left -= (size_t)w;
    }
    return 1;
}

static void set_events(struct conn *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_readable(struct conn *c)
{
    ssize_t r = read(c->fd, c->buf + c->len, HTTP_BUF_SIZE - c->len);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_close(c);
        return;
    }
    c->len += (uint32_t)r;

    size_t used;
    size_t n = http_scan(c->buf, c->len, &used, &c->scanned);
    c->len = (uint32_t)http_compact(c->buf, c->len, used);
    if (n == 0) {
        if (c->len == HTTP_BUF_SIZE)    /* request too large */
            conn_close(c);
        return;
    }
    c->out_off = 0;
    c->out_left = n * HTTP_RESPONSE_LEN;
    int f = conn_flush(c);
    if (f < 0)
        conn_close(c);
    else if (f == 0)
        set_events(c, EPOLLOUT);
}

static void on_writable(struct conn *c)
{
    int f = conn_flush(c);
    if (f < 0)
        conn_close(c);
    else if (f > 0)
        set_events(c, EPOLLIN);
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("accept4");
            return;
        }
        http_nodelay(fd);
        struct conn *c = malloc(sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->len = 0;
        c->scanned = 0;
        c->out_left = 0;
        c->out_off = 0;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            conn_close(c);
    }
}

int main(int argc, char **argv)
{
    int port = http_port(argc, argv);
    http_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    http_init_responses();

    int lfd = http_listen(port, 1);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);

    enum { MAX_EVENTS = 512 };
    static struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL)
                on_accept(lfd);
            else if (c->out_left > 0)
                on_writable(c);
            else
                on_readable(c);     /* EPOLLIN, or an error/hangup that
                                       read reports */
        }
    }
}
