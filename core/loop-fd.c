/* SPDX-License-Identifier: MIT */
/*
 * Descriptor waits.  Each wait arms the descriptor's epoll registration
 * one-shot for what its waiters want (EPOLL_CTL_MOD, or ADD when there is
 * none).  Arming at every wait is what makes closing a descriptor nobody
 * waits on safe, also when its number comes back for another file: a
 * registration that the kernel dropped with the old file is simply made
 * again, and one that outlived it (a dup kept the old file open) carries an
 * older generation in its data, so its events are ignored.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "diag.h"
#include "loop.h"

static struct coop__fd_slot *coop__fd_slot(struct coop_loop *loop, int fd)
{
    if ((size_t)fd >= loop->fds_cap) {
        size_t cap = loop->fds_cap ? loop->fds_cap : 64;
        struct coop__fd_slot *fds;

        while (cap <= (size_t)fd)
            cap *= 2;
        fds = realloc(loop->fds, cap * sizeof(*fds));
        if (!fds) {
            errno = ENOMEM;
            return NULL;
        }
        memset(fds + loop->fds_cap, 0, (cap - loop->fds_cap) * sizeof(*fds));
        loop->fds = fds;
        loop->fds_cap = cap;
    }
    return &loop->fds[fd];
}

/* Arm fd for what its waiters want; -1 with epoll_ctl's errno. */
static int coop__fd_arm(struct coop_loop *loop, int fd,
                        struct coop__fd_slot *slot)
{
    struct epoll_event ev;
    uint32_t want = (slot->in ? (uint32_t)EPOLLIN : 0) |
                    (slot->out ? (uint32_t)EPOLLOUT : 0);

    if (slot->in)
        want |= slot->in->wait.events & POLLOUT ? EPOLLOUT : 0;
    if (slot->out)
        want |= slot->out->wait.events & POLLIN ? EPOLLIN : 0;
    ev.events = want | EPOLLONESHOT;
    ev.data.u64 = (uint64_t)slot->gen << 32 | (uint32_t)fd;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;
    slot->gen++;
    ev.data.u64 = (uint64_t)slot->gen << 32 | (uint32_t)fd;
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* What poll() says of fd right now: revents, or -1 with errno. */
static int coop__fd_poll_now(int fd, int events)
{
    struct pollfd p = { .fd = fd, .events = (short)events };

    if (poll(&p, 1, 0) < 0)
        return -1;
    if (p.revents & POLLNVAL) {
        errno = EBADF;
        return -1;
    }
    return p.revents;
}

static void coop__fd_leave(struct coop__fd_slot *slot, const coop_t *co)
{
    if (slot->in == co)
        slot->in = NULL;
    if (slot->out == co)
        slot->out = NULL;
}

int coop_fd_wait(int fd, int events, int64_t timeout_ns)
{
    coop_t *self = coop__self_for_blocking("coop_fd_wait");
    struct coop_loop *loop;
    struct coop__fd_slot *slot;

    events &= POLLIN | POLLOUT;
    if (!events) {
        errno = EINVAL;
        return -1;
    }
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (timeout_ns == 0)
        return coop__fd_poll_now(fd, events);
    loop = coop__loop_get();
    if (!loop || !(slot = coop__fd_slot(loop, fd)))
        return -1;
    if (((events & POLLIN) && slot->in) || ((events & POLLOUT) && slot->out)) {
        errno = EEXIST;
        return -1;
    }
    self->wait.fd = fd;
    self->wait.events = (short)events;
    self->wait.revents = 0;
    if (events & POLLIN)
        slot->in = self;
    if (events & POLLOUT)
        slot->out = self;
    if (coop__fd_arm(loop, fd, slot) != 0) {
        int err = errno;

        coop__fd_leave(slot, self);
        if (err == EPERM) /* a regular file or the like: poll() answers */
            return coop__fd_poll_now(fd, events);
        errno = err;
        return -1;
    }
    if (timeout_ns > 0 &&
        coop__timer_add(loop, self, coop__now_ns() + timeout_ns) != 0) {
        coop__fd_leave(slot, self);
        return -1;
    }
    coop__loop_wait(self, loop);
    if (self->wait.err) {
        errno = self->wait.err;
        return -1;
    }
    return self->wait.revents; /* 0: timed out */
}

void coop__fd_forget(struct coop_loop *loop, coop_t *co)
{
    coop__fd_leave(&loop->fds[co->wait.fd], co);
}

void coop__fd_events(struct coop_loop *loop, uint64_t data, uint32_t ev)
{
    int fd = (int)(uint32_t)data;
    struct coop__fd_slot *slot;
    coop_t *waiter[2];
    short rev;

    if ((size_t)fd >= loop->fds_cap)
        return;
    slot = &loop->fds[fd];
    if (slot->gen != (uint32_t)(data >> 32))
        return; /* of a file that had this number before */
    rev = (short)((ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) |
                  (ev & EPOLLERR ? POLLERR : 0) | (ev & EPOLLHUP ? POLLHUP : 0));
    waiter[0] = slot->in;
    waiter[1] = slot->out != slot->in ? slot->out : NULL;
    for (int i = 0; i < 2; i++) {
        coop_t *w = waiter[i];
        short mine;

        if (!w)
            continue;
        mine = rev & (w->wait.events | POLLERR | POLLHUP);
        if (mine) {
            w->wait.revents = mine;
            coop__loop_wait_over(loop, w, 0);
        }
    }
    /* one-shot: what is still wanted needs arming again */
    if ((slot->in || slot->out) && coop__fd_arm(loop, fd, slot) != 0) {
        for (int i = 0; i < 2; i++) {
            coop_t *w = slot->in ? slot->in : slot->out;

            if (w) {
                w->wait.revents = POLLNVAL; /* closed while waited on */
                coop__loop_wait_over(loop, w, 0);
            }
        }
    }
}

/*
 * A read that came back short has most likely emptied the descriptor, so
 * the next read would fail with EAGAIN before waiting: request/response
 * traffic then pays a wasted read per request.  coop_read waits first
 * instead.  Only a hint: by number, so a closed and reused number costs at
 * most one early wait, which returns at once when input is there.
 */
bool coop__fd_drained(int fd)
{
    struct coop_loop *loop = coop__loop_get();

    return loop && fd >= 0 && (size_t)fd < loop->fds_cap &&
           loop->fds[fd].drained;
}

void coop__fd_set_drained(int fd, bool drained)
{
    struct coop_loop *loop = coop__loop_get();
    struct coop__fd_slot *slot;

    if (loop && fd >= 0 && (drained || (size_t)fd < loop->fds_cap) &&
        (slot = coop__fd_slot(loop, fd)) != NULL)
        slot->drained = drained;
}

void coop__fd_free(struct coop_loop *loop)
{
    free(loop->fds);
    loop->fds = NULL;
    loop->fds_cap = 0;
}
