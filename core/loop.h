/* SPDX-License-Identifier: MIT */
/* A thread's loop (loop.c), its timers (loop-timer.c) and descriptor
 * waits (loop-fd.c). */
#ifndef COOP_LOOP_INTERNAL_H
#define COOP_LOOP_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "coop-loop.h"
#include "coop-internal.h"

/* coop_t.wait.state: only WAITING -> INTERRUPTED may happen off the
 * loop's thread (coop_interrupt); the loop's thread does the rest. */
enum { COOP__WAIT_NONE, COOP__WAIT_WAITING, COOP__WAIT_INTERRUPTED };

/* Who waits on one descriptor number, and the epoll registration. */
struct coop__fd_slot {
    coop_t  *in, *out;      /* the waiter for each direction, or NULL      */
    uint32_t gen;           /* of the registration (stale events: ignored) */
    bool     drained;       /* coop_read's last read here came back short  */
};

/* An entry of the timer heap. */
struct coop__timer {
    int64_t  deadline;
    uint64_t seq;
    coop_t  *co;
};

struct coop_loop {
    struct coop__thread *thread;
    pid_t    pid;           /* made in this process (fork: not the child's) */
    int      epfd;
    int      evfd;          /* written when the loop sleeps and must wake  */
    size_t   waits;         /* sleeps and descriptor waits in progress      */

    /* timers: a binary min-heap on (deadline, seq) */
    struct coop__timer *heap;
    size_t   heap_n, heap_cap;
    uint64_t seq;

    /* descriptor waits, indexed by number */
    struct coop__fd_slot *fds;
    size_t   fds_cap;

    /* waits that ended, to be entered by this poll (link: next) */
    coop_queue_t slept;     /* sleeps over, in deadline order               */
    coop_queue_t ready;     /* descriptor ready, timed out, interrupted     */

    /* from any thread (atomic) */
    coop_t  *sched_head;    /* newest first; link sched_next                */
    coop_t  *intr_head;     /* interrupt requests; link wait.intr_next      */
    long     holds;
    int      sleeping;      /* in epoll_wait (or about to be)               */
    int      notified;      /* evfd written since the loop last woke        */
    int      kicked;        /* a release since the loop last woke           */
    int      pinned;        /* other threads inside a call on this loop     */
};

/* loop.c */
struct coop_loop *coop__loop_get(void);     /* NULL with errno */
void coop__loop_notify(struct coop_loop *loop);
int64_t coop__now_ns(void);
/* self waits in its loop (wait fields set); back with the wait over. */
void coop__loop_wait(coop_t *self, struct coop_loop *loop);
/* On the loop's thread: self's wait is over with err (0 or EINTR). */
void coop__loop_wait_over(struct coop_loop *loop, coop_t *co, int err);

/* loop-timer.c */
int  coop__timer_add(struct coop_loop *loop, coop_t *co, int64_t deadline);
void coop__timer_remove(struct coop_loop *loop, coop_t *co);
int64_t coop__timer_next(const struct coop_loop *loop); /* -1: none */
void coop__timer_expire(struct coop_loop *loop, int64_t now);
void coop__timer_free(struct coop_loop *loop);

/* loop-fd.c */
void coop__fd_forget(struct coop_loop *loop, coop_t *co);
void coop__fd_events(struct coop_loop *loop, uint64_t data, uint32_t ev);
void coop__fd_free(struct coop_loop *loop);
/* coop_read's hint: was the last read on fd (by number) short? */
bool coop__fd_drained(int fd);
void coop__fd_set_drained(int fd, bool drained);

#endif /* COOP_LOOP_INTERNAL_H */
