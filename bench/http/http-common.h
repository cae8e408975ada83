/* SPDX-License-Identifier: MIT */
/*
 * Shared by the four HTTP benchmark servers: the fixed response, the
 * request scanner and the small bits of socket setup, so that every server
 * does exactly the same work per request and only the I/O machinery
 * differs.
 *
 * Requests are GETs without a body: a request is complete when its
 * "\r\n\r\n" has arrived.  Pipelined requests are answered in order, all
 * the complete ones of a read in one write; a partial request stays in the
 * connection's buffer until the rest arrives.
 */
#ifndef HTTP_COMMON_H
#define HTTP_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memmem, accept4 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_RESPONSE                                                       \
    "HTTP/1.1 200 OK\r\n"                                                   \
    "Server: bench\r\n"                                                     \
    "Content-Type: text/plain\r\n"                                          \
    "Content-Length: 13\r\n"                                                \
    "Connection: keep-alive\r\n"                                            \
    "\r\n"                                                                  \
    "Hello, World!"
#define HTTP_RESPONSE_LEN (sizeof HTTP_RESPONSE - 1)

/* Per-connection request buffer. */
#define HTTP_BUF_SIZE 4096

/* The shortest request is "GET / HTTP/1.1\r\n\r\n" (18 bytes), so a full
 * buffer holds fewer than HTTP_BUF_SIZE / 16 requests: the responses to
 * one buffer's worth always fit in http_responses. */
#define HTTP_MAX_BATCH (HTTP_BUF_SIZE / 16)

static char http_responses[HTTP_MAX_BATCH * HTTP_RESPONSE_LEN];

/* Fill http_responses with HTTP_MAX_BATCH copies of the response. */
static inline void http_init_responses(void)
{
    for (size_t i = 0; i < HTTP_MAX_BATCH; i++)
        memcpy(http_responses + i * HTTP_RESPONSE_LEN, HTTP_RESPONSE,
               HTTP_RESPONSE_LEN);
}

/*
 * Scan buf[0, len) for complete requests.  Returns how many there are and
 * sets *used to the bytes they take (the rest is a partial request).
 * *scanned is where the previous scan of the same partial request stopped,
 * so bytes are not looked at twice; it is updated.
 */
static inline size_t http_scan(const char *buf, size_t len, size_t *used,
                               size_t *scanned)
{
    size_t n = 0, start = 0;
    size_t from = *scanned > 3 ? *scanned - 3 : 0;

    for (;;) {
        const char *end = memmem(buf + from, len - from, "\r\n\r\n", 4);
        if (end == NULL)
            break;
        start = (size_t)(end - buf) + 4;
        from = start;
        n++;
    }
    *used = start;
    *scanned = len - start;
    return n;
}

/* After answering: move the partial request to the front of the buffer. */
static inline size_t http_compact(char *buf, size_t len, size_t used)
{
    if (used == 0)
        return len;
    if (used < len)
        memmove(buf, buf + used, len - used);
    return len - used;
}

static inline void http_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static inline int http_port(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        exit(2);
    }
    return port;
}

/* A listening TCP socket on 127.0.0.1:port (0.0.0.0 with HTTP_ANY set). */
static inline int http_listen(int port, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
                    (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(getenv("HTTP_ANY") ? INADDR_ANY
                                                  : INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("bind");
        exit(1);
    }
    if (listen(fd, 4096) < 0) {
        perror("listen");
        exit(1);
    }
    return fd;
}

/* Small responses: send them at once. */
static inline void http_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

#endif /* HTTP_COMMON_H */
