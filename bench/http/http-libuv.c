/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 keep-alive benchmark server on libuv: uv_tcp_t, uv_read_start,
 * uv_write.  One thread, the default loop.  The read buffer is part of the
 * connection (alloc_cb hands out its free tail); the answers point into the
 * static http_responses, so a write needs no copy.  One write request is
 * embedded in the connection; should a second write start while the first
 * is still queued (the socket was full), it gets a malloc'd request.
 *
 * usage: http-libuv PORT
 */
#define _GNU_SOURCE
#include <uv.h>

#include "http-common.h"

struct conn {
    uv_tcp_t   tcp;         /* first: the handle is the connection */
    uv_write_t wreq;
    int        wbusy;       /* wreq is in flight */
    uint32_t   len;
    size_t     scanned;
    char       buf[HTTP_BUF_SIZE];
};

static uv_loop_t *loop;

static void on_closed(uv_handle_t *h)
{
    free(h);                /* struct conn starts with the handle */
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = (struct conn *)h;
    buf->base = c->buf + c->len;
    buf->len = HTTP_BUF_SIZE - c->len;
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    if (req == &c->wreq)
        c->wbusy = 0;
    else
        free(req);
    if (status < 0)
        conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = (struct conn *)s;
    if (nread <= 0) {
        if (nread < 0)          /* UV_EOF or an error */
            conn_close(c);
        return;                 /* 0: EAGAIN */
    }
    c->len += (uint32_t)nread;

    size_t used;
    size_t n = http_scan(c->buf, c->len, &used, &c->scanned);
    c->len = (uint32_t)http_compact(c->buf, c->len, used);
    if (n == 0) {
        if (c->len == HTTP_BUF_SIZE)
            conn_close(c);
        return;
    }

    uv_write_t *req = &c->wreq;
    if (c->wbusy) {
        req = malloc(sizeof *req);
        if (req == NULL) {
            conn_close(c);
            return;
        }
    } else {
        c->wbusy = 1;
    }
    req->data = c;
    uv_buf_t out = uv_buf_init(http_responses,
                               (unsigned int)(n * HTTP_RESPONSE_LEN));
    if (uv_write(req, s, &out, 1, on_written) < 0) {
        if (req == &c->wreq)
            c->wbusy = 0;
        else
            free(req);
        conn_close(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(loop, &c->tcp);
    c->wbusy = 0;
    c->len = 0;
    c->scanned = 0;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    int port = http_port(argc, argv);
    http_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    http_init_responses();

    loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in sa;
    uv_ip4_addr(getenv("HTTP_ANY") ? "0.0.0.0" : "127.0.0.1", port, &sa);
    int e = uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0);
    if (e == 0)
        e = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (e < 0) {
        fprintf(stderr, "listen: %s\n", uv_strerror(e));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
