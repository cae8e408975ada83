/* SPDX-License-Identifier: MIT */
/*
 * libcoop loops: time, file descriptors and other threads.
 *
 * Every thread has at most one loop, made on first use.  A coroutine that
 * sleeps or waits for a descriptor yields to whoever entered it; the loop
 * of its thread enters it again when the wait is over.  Other threads hand
 * coroutines to a loop with coop_schedule() (QEMU's aio_co_schedule) and
 * coop_wake_home() (aio_co_wake).  Linux only; the loop is built on epoll.
 *
 * Part of libcoop (same library, same pkg-config name).  Times are
 * CLOCK_MONOTONIC nanoseconds; every timeout_ns is relative, negative
 * means none, 0 means do not wait.
 */
#ifndef COOP_LOOP_H
#define COOP_LOOP_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "coop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque; one per thread. */
typedef struct coop_loop coop_loop_t;

/* ------------------------------------------------------------- the loop */

/*
 * The calling thread's loop, made on first use (from the main context or a
 * coroutine); NULL with errno EMFILE or ENOMEM when it cannot be made.  It
 * is freed when the thread exits; a coroutine still sleeping or waiting in
 * it then is never entered again.  After fork() the child has no loop: its
 * first call makes a fresh, empty one, and nothing the parent's loop waited
 * for is entered in the child.
 */
COOP_API coop_loop_t *coop_loop_self(void);

/*
 * One pass of the calling thread's loop, from its main context (in a
 * coroutine it is a misuse).  Enters, each through coop_enter(): the
 * coroutines scheduled into this loop, in scheduling order; those whose
 * sleep is over, in deadline order (equal deadlines in the order the sleeps
 * began); those whose descriptor became ready, whose wait timed out or was
 * interrupted.  With block, when nothing is ready, waits until something
 * is: a deadline, a descriptor, a schedule or a release from another
 * thread.  Returns true when it entered at least one coroutine.
 *
 * Decision: when the loop cannot be made, returns false with errno set.
 */
COOP_API bool coop_loop_poll(bool block);

/*
 * coop_loop_poll(true) until no coroutine sleeps or waits on a descriptor
 * in this loop, nothing is scheduled into it and no hold is left; at once
 * when there is nothing of that kind.  From the main context only.
 */
COOP_API void coop_loop_run(void);

/*
 * Count holds on loop; any thread may call them.  While a loop is held its
 * coop_loop_run() does not return; a release wakes a blocked poll.
 * Releasing more than was held is a misuse.
 */
COOP_API void coop_loop_hold(coop_loop_t *loop);
COOP_API void coop_loop_release(coop_loop_t *loop);

/* -------------------------------------------------------- other threads */

/*
 * Enter co in loop's thread, during that loop's next poll (also when
 * called from loop's own thread: not at once).  Any thread may call it.
 * co must be new or suspended (not woken, not scheduled, not waiting in a
 * primitive, a sleep or a descriptor wait), or be the coroutine running in
 * loop's own thread (then it is entered after it yields).  Nobody else may
 * enter it until it runs.  Scheduling a coroutine that is scheduled and
 * has not run yet is a misuse ("already scheduled").
 *
 * Decision: the running coroutine may also schedule itself into another
 * thread's loop (a hop, QEMU's aio_co_reschedule_self): it is handed over
 * once it has yielded, so the other thread never enters it while it still
 * runs here.
 */
COOP_API void coop_schedule(coop_loop_t *loop, coop_t *co);

/*
 * The loop of the thread that last entered co; for one never entered, of
 * the thread that created it.  NULL when that thread has made no loop.
 */
COOP_API coop_loop_t *coop_home(const coop_t *co);

/*
 * On co's home thread, coop_wake(co); from any other thread,
 * coop_schedule(coop_home(co), co).  A misuse when co has no home loop.
 * A loop must outlive every schedule and wake aimed at it: hold it.
 */
COOP_API void coop_wake_home(coop_t *co);

/* -------------------------------------------------------------- waiting */

/*
 * Inside a coroutine only.  Suspends the caller until at least ns
 * nanoseconds have passed: 0 after the full sleep, -1 with errno EINTR when
 * interrupted, ENOMEM or EMFILE when the loop cannot be made.  ns <= 0
 * yields to the loop once: the coroutine is entered again by the next poll.
 */
COOP_API int coop_sleep_ns(int64_t ns);

/*
 * Inside a coroutine only.  Waits until fd is ready for events (POLLIN,
 * POLLOUT or both, from <poll.h>).  Returns the ready events (non-zero; may
 * include POLLERR and POLLHUP), 0 when the timeout passed first, or -1 with
 * errno EINTR (interrupted), EBADF (not an open descriptor), EINVAL (events
 * asks for neither), EEXIST (another coroutine already waits on fd for one
 * of the same events), ENOMEM.  A regular file is always ready.  fd must
 * not be closed while a coroutine waits on it (interrupt the waiter first);
 * closing one nobody waits on is always safe, also when its number is
 * reused.
 *
 * While a coroutine sleeps or waits on a descriptor, entering, waking or
 * scheduling it is a misuse ("waits in the loop").
 */
COOP_API int coop_fd_wait(int fd, int events, int64_t timeout_ns);

/*
 * Any thread.  When co sleeps or waits on a descriptor, that wait ends soon
 * with EINTR and true is returned; otherwise nothing changes and false is
 * returned (an interrupt is not kept for a later wait).
 */
COOP_API bool coop_interrupt(coop_t *co);

/* ---------------------------------------------------------- descriptors */

/*
 * Inside a coroutine only; fd must be non-blocking.
 *
 * coop_read: at most len bytes, waiting for input when there is none: the
 * number read, 0 at end of file, or -1 with errno (ETIMEDOUT, EINTR, or
 * read's own).
 * coop_write: all len bytes, waiting for room as often as needed (the
 * timeout bounds each wait, not the call): len, or -1 with errno
 * (ETIMEDOUT, EINTR, EPIPE, write's own; part may have been written).  On
 * a socket it raises no SIGPIPE.
 * coop_accept: a new connection, non-blocking and close-on-exec, or -1
 * with errno (ETIMEDOUT, EINTR, or accept's own).
 * coop_connect: 0 once connected, or -1 with errno (ETIMEDOUT, EINTR,
 * ECONNREFUSED, connect's own).
 */
COOP_API ssize_t coop_read(int fd, void *buf, size_t len, int64_t timeout_ns);
COOP_API ssize_t coop_write(int fd, const void *buf, size_t len,
                            int64_t timeout_ns);
COOP_API int coop_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                         int64_t timeout_ns);
COOP_API int coop_connect(int fd, const struct sockaddr *addr,
                          socklen_t addrlen, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* COOP_LOOP_H */
