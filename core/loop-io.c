/* SPDX-License-Identifier: MIT */
/* Reading, writing, accepting and connecting on non-blocking descriptors:
 * try the call, and wait in the loop only when it would block. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

/* 0 when fd is ready for events, or -1 with errno (ETIMEDOUT, EINTR...). */
static int coop__io_wait(int fd, int events, int64_t timeout_ns)
{
    int r = coop_fd_wait(fd, events, timeout_ns);

    if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return r < 0 ? -1 : 0;
}

static bool coop__would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

ssize_t coop_read(int fd, void *buf, size_t len, int64_t timeout_ns)
{
    coop__self_for_blocking("coop_read");
    if (timeout_ns != 0 && len > 0 && coop__fd_drained(fd) &&
        coop__io_wait(fd, POLLIN, timeout_ns) != 0)
        return -1;
    for (;;) {
        ssize_t n = read(fd, buf, len);

        if (n >= 0) {
            coop__fd_set_drained(fd, n > 0 && (size_t)n < len);
            return n;
        }
        if (errno == EINTR)
            continue;
        if (!coop__would_block(errno) || coop__io_wait(fd, POLLIN, timeout_ns))
            return -1;
    }
}

ssize_t coop_write(int fd, const void *buf, size_t len, int64_t timeout_ns)
{
    const char *p = buf;
    size_t done = 0;
    bool socket = true; /* send() first: it can refuse SIGPIPE */

    coop__self_for_blocking("coop_write");
    while (done < len) {
        ssize_t n = socket ? send(fd, p + done, len - done, MSG_NOSIGNAL)
                           : write(fd, p + done, len - done);

        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (socket && errno == ENOTSOCK) {
            socket = false;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (!coop__would_block(errno) || coop__io_wait(fd, POLLOUT, timeout_ns))
            return -1;
    }
    return (ssize_t)len;
}

int coop_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                int64_t timeout_ns)
{
    coop__self_for_blocking("coop_accept");
    for (;;) {
        int c = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (c >= 0)
            return c;
        if (errno == EINTR)
            continue;
        if (!coop__would_block(errno) || coop__io_wait(fd, POLLIN, timeout_ns))
            return -1;
    }
}

int coop_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                 int64_t timeout_ns)
{
    int err = 0;
    socklen_t len = sizeof(err);

    coop__self_for_blocking("coop_connect");
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    /* EINTR: the connection goes on in the background, as EINPROGRESS */
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    if (coop__io_wait(fd, POLLOUT, timeout_ns) != 0)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
