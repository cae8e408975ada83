/* SPDX-License-Identifier: MIT */
/*
 * Loops (coop-loop.h): sleeps and their order, descriptor waits and
 * interrupts, the I/O calls over pipes and sockets, schedules and wakes
 * from other threads, hops, holds, fork, and each loop misuse.
 *
 * Timing: only lower bounds are asserted ("slept at least ns").  Order
 * checks that depend on the clock use bounds taken around the start of
 * each sleep, so a slow host (qemu-user, valgrind) cannot fail them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <coop-loop.h>

#include "suites.h"

#define MS   1000000LL
#define HOUR (3600LL * 1000 * MS)

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep the whole thread (not a coroutine). */
static void pause_ns(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool under_sanitizer(void)
{
    return getenv("COOP_TEST_SANITIZER") != NULL;
}

/*
 * pthread_self() is declared const: the compiler may reuse its value
 * across a yield.  Not inlined and with a barrier, this is read afresh.
 */
static __attribute__((noinline)) pthread_t current_thread(void)
{
    __asm__ volatile("" ::: "memory");
    return pthread_self();
}

static __thread int thread_tag;

static __attribute__((noinline)) int read_thread_tag(void)
{
    __asm__ volatile("" ::: "memory");
    return thread_tag;
}

static __attribute__((noinline)) void write_thread_tag(int v)
{
    __asm__ volatile("" ::: "memory");
    thread_tag = v;
}

/* ------------------------------------------------------------ event log */

static char log_buf[512];
static size_t n_events;

static void event(char c)
{
    if (n_events < sizeof(log_buf) - 1)
        log_buf[n_events++] = c;
    log_buf[n_events] = '\0';
}

static void events_reset(void)
{
    n_events = 0;
    log_buf[0] = '\0';
}

/* Logs the char it points to. */
static void tag_fn(void *opaque)
{
    event(*(const char *)opaque);
}

static coop_t *spawn(coop_fn fn, void *arg)
{
    coop_t *co = coop_create(fn, arg);

    ck_assert_ptr_nonnull(co);
    return co;
}

/* --------------------------------------------------------------- sleeps */

struct sleeper {
    char tag;
    int64_t ns;
    int64_t lo, hi; /* bounds on the deadline the library took */
    int64_t woke;
    int rc, err;
    bool done;
    coop_t *co;     /* valid while !done */
};

static void sleeper_fn(void *opaque)
{
    struct sleeper *s = opaque;

    s->lo = now_ns() + s->ns;
    s->rc = coop_sleep_ns(s->ns);
    s->err = errno;
    s->woke = now_ns();
    event(s->tag);
    s->done = true;
}

/* s sleeps once this returns; hi is taken after it yielded to us. */
static void start_sleeper(struct sleeper *s, char tag, int64_t ns)
{
    memset(s, 0, sizeof(*s));
    s->tag = tag;
    s->ns = ns;
    s->co = spawn(sleeper_fn, s);
    coop_enter(s->co);
    s->hi = now_ns() + ns;
    ck_assert_msg(!s->done, "sleeper %c did not wait", tag);
}

START_TEST(test_sleep_returns_zero_after_at_least_ns)
{
    struct sleeper s;

    start_sleeper(&s, 'a', 20 * MS);
    coop_loop_run();
    ck_assert(s.done);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_msg(s.woke >= s.lo, "woke %lld ns early",
                  (long long)(s.lo - s.woke));
}
END_TEST

/* Begun in the order a b c d, due in the order d b c a. */
START_TEST(test_sleeps_end_in_deadline_order)
{
    static const int64_t ns[] = { 60 * MS, 20 * MS, 40 * MS, 1 * MS };
    struct sleeper s[4];
    int64_t t0 = now_ns(), max_lo = INT64_MIN;
    bool quick;

    events_reset();
    for (int i = 0; i < 4; i++)
        start_sleeper(&s[i], (char)('a' + i), ns[i]);
    quick = now_ns() - t0 < 15 * MS;
    coop_loop_run();
    ck_assert_uint_eq(n_events, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert(s[i].done);
        ck_assert_int_eq(s[i].rc, 0);
        ck_assert(s[i].woke >= s[i].lo);
    }
    /* A sleeper woken after another must not have been surely due first. */
    for (size_t k = 0; k < n_events; k++) {
        struct sleeper *x = &s[log_buf[k] - 'a'];

        ck_assert_msg(x->hi >= max_lo, "order \"%s\" is not deadline order",
                      log_buf);
        if (x->lo > max_lo)
            max_lo = x->lo;
    }
    if (quick) /* the gaps are far larger than the time it took to begin */
        ck_assert_str_eq(log_buf, "dbca");
}
END_TEST

/*
 * The same length begun one after another: each deadline is equal to or
 * later than the one before, and equal ones keep the order begun, so the
 * wake order is the start order whatever the clock's resolution.
 */
START_TEST(test_equal_sleeps_end_in_order_begun)
{
    struct sleeper s[16];

    events_reset();
    for (int i = 0; i < 16; i++)
        start_sleeper(&s[i], (char)('a' + i), 10 * MS);
    coop_loop_run();
    ck_assert_str_eq(log_buf, "abcdefghijklmnop");
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(s[i].rc, 0);
}
END_TEST

static void sleep_zero_fn(void *opaque)
{
    int *rc = opaque;

    event('a');
    rc[0] = coop_sleep_ns(0);
    event('b');
    rc[1] = coop_sleep_ns(-5);
    event('c');
}

START_TEST(test_sleep_zero_or_negative_yields_once_to_next_poll)
{
    int rc[2] = { -2, -2 };

    events_reset();
    coop_enter(spawn(sleep_zero_fn, rc));
    ck_assert_str_eq(log_buf, "a");      /* yielded */
    ck_assert(coop_loop_poll(false));   /* entered by the next poll */
    ck_assert_str_eq(log_buf, "ab");
    ck_assert(coop_loop_poll(true));    /* ready: a blocking poll must not wait */
    ck_assert_str_eq(log_buf, "abc");
    ck_assert_int_eq(rc[0], 0);
    ck_assert_int_eq(rc[1], 0);
    ck_assert(!coop_loop_poll(false));
}
END_TEST

START_TEST(test_poll_returns_whether_it_entered)
{
    struct sleeper s;

    ck_assert_ptr_nonnull(coop_loop_self());
    ck_assert(!coop_loop_poll(false));  /* an empty loop */
    start_sleeper(&s, 'a', HOUR);
    ck_assert(!coop_loop_poll(false));  /* asleep for an hour: nothing due */
    ck_assert(!s.done);
    ck_assert(coop_interrupt(s.co));
    ck_assert(coop_loop_poll(true));    /* enters the interrupted sleep */
    ck_assert(s.done);
    ck_assert_int_eq(s.rc, -1);
    ck_assert_int_eq(s.err, EINTR);
    ck_assert(!coop_loop_poll(false));
}
END_TEST

static void yield_fn(void *opaque)
{
    int *stage = opaque;

    *stage = 1;
    coop_yield();
    *stage = 2;
}

static void *loop_of_thread(void *opaque)
{
    (void)opaque;
    return coop_loop_self();
}

START_TEST(test_run_returns_at_once_with_nothing_to_wait_for)
{
    int stage = 0;
    coop_loop_t *mine;
    void *other = NULL;
    pthread_t t;
    coop_t *co;

    coop_loop_run();                    /* no loop made yet */
    mine = coop_loop_self();
    ck_assert_ptr_nonnull(mine);
    ck_assert_ptr_eq(coop_loop_self(), mine); /* one per thread */
    coop_loop_run();                    /* an empty loop */

    /* A plain yield is no wait in the loop: run neither waits nor enters. */
    co = spawn(yield_fn, &stage);
    coop_enter(co);
    coop_loop_run();
    ck_assert_int_eq(stage, 1);
    coop_enter(co);
    ck_assert_int_eq(stage, 2);

    ck_assert_int_eq(pthread_create(&t, NULL, loop_of_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &other), 0);
    ck_assert_ptr_nonnull(other);
    ck_assert_ptr_ne(other, mine);
}
END_TEST

/* ----------------------------------------------- 100,000 sleepers */

#define SLEEPERS 100000
#define SLEEPERS_SANITIZED 4000 /* ThreadSanitizer keeps at most 8128 fibers */

struct many_sleeper {
    int64_t ns, lo, hi, woke;
    int rc;
};

static struct many_sleeper *many;
static int *many_order, many_woken;

static void many_fn(void *opaque)
{
    struct many_sleeper *m = opaque;

    m->lo = now_ns() + m->ns;
    m->rc = coop_sleep_ns(m->ns);
    m->woke = now_ns();
    many_order[many_woken++] = (int)(m - many);
}

START_TEST(test_hundred_thousand_sleepers_wake_in_deadline_order)
{
    int want = under_sanitizer() ? SLEEPERS_SANITIZED : SLEEPERS, made = 0;
    uint32_t lcg = 12345;
    int64_t max_lo = INT64_MIN;
    coop_attr_t attr;

    coop_attr_init(&attr);
    attr.stack_size = 16 << 10;
    many = calloc((size_t)want, sizeof(*many));
    many_order = calloc((size_t)want, sizeof(*many_order));
    many_woken = 0;
    ck_assert_ptr_nonnull(many);
    ck_assert_ptr_nonnull(many_order);
    for (; made < want; made++) {
        coop_t *co;

        lcg = lcg * 1103515245u + 12345u;
        many[made].ns = 1 * MS + (int64_t)((lcg >> 16) % 4096) * 1000;
        co = coop_create_attr(&attr, many_fn, &many[made]);
        if (co == NULL) {
            /* without guard markers, two mappings a stack: the system's
             * mapping limit stops us near 32,000 (see test-stack.c) */
            ck_assert_int_eq(errno, ENOMEM);
            ck_assert_int_ge(made, 20000);
            break;
        }
        coop_enter(co);
        many[made].hi = now_ns() + many[made].ns;
    }
    coop_loop_run();

    ck_assert_int_eq(many_woken, made);
    for (int k = 0; k < made; k++) {
        struct many_sleeper *m = &many[many_order[k]];

        ck_assert_int_eq(m->rc, 0);
        ck_assert(m->woke >= m->lo);
        ck_assert_msg(m->hi >= max_lo, "sleeper %d woke #%d, after one "
                      "surely due later", many_order[k], k);
        if (m->lo > max_lo)
            max_lo = m->lo;
    }
    free(many);
    free(many_order);
}
END_TEST

/* ------------------------------------------------ descriptor waits */

/* kind 0: a pipe, 1: a socketpair; both ends non-blocking. */
static void make_channel(int kind, int fds[2])
{
    if (kind == 0)
        ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    else
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                    SOCK_CLOEXEC, 0, fds), 0);
}

static void close_channel(int fds[2])
{
    close(fds[0]);
    close(fds[1]);
}

struct waiter {
    char tag;
    int fd, events;
    int64_t timeout;
    int64_t begin, end;
    int rc, err;
    bool done;
    coop_t *co; /* valid while !done */
};

static void waiter_fn(void *opaque)
{
    struct waiter *w = opaque;

    w->begin = now_ns();
    w->rc = coop_fd_wait(w->fd, w->events, w->timeout);
    w->err = errno;
    w->end = now_ns();
    event(w->tag);
    w->done = true;
}

static void start_waiter(struct waiter *w, char tag, int fd, int events,
                         int64_t timeout)
{
    memset(w, 0, sizeof(*w));
    w->tag = tag;
    w->fd = fd;
    w->events = events;
    w->timeout = timeout;
    w->rc = -2;
    w->co = spawn(waiter_fn, w);
    coop_enter(w->co);
}

/* An error found at the call: returned at once. */
static void expect_wait_error(int fd, int events, int err)
{
    struct waiter w;

    start_waiter(&w, 'e', fd, events, -1);
    ck_assert_msg(w.done, "coop_fd_wait(%d, %#x) waited instead of failing",
                  fd, (unsigned)events);
    ck_assert_msg(w.rc == -1 && w.err == err,
                  "coop_fd_wait(%d, %#x): %d, errno %d (%s), not %s", fd,
                  (unsigned)events, w.rc, w.err, strerror(w.err),
                  strerror(err));
}

/* Sleeps, then writes data with write(2). */
struct delayed_write {
    int fd;
    int64_t delay;
    const char *data;
    int64_t at;
    ssize_t rc;
    bool done;
};

static void delayed_write_fn(void *opaque)
{
    struct delayed_write *d = opaque;

    coop_sleep_ns(d->delay);
    d->at = now_ns();
    d->rc = write(d->fd, d->data, strlen(d->data));
    d->done = true;
}

START_TEST(test_fd_wait_pollin_after_write_from_coroutine)
{
    int fds[2];
    char c;
    struct waiter w;
    struct delayed_write d = { 0, 2 * MS, "x", 0, -2, false };

    make_channel(_i, fds);
    d.fd = fds[1];
    start_waiter(&w, 'w', fds[0], POLLIN, -1);
    ck_assert(!w.done);                 /* nothing to read yet */
    coop_enter(spawn(delayed_write_fn, &d));
    ck_assert(!w.done);
    coop_loop_run();
    ck_assert(d.done);
    ck_assert_int_eq(d.rc, 1);
    ck_assert(w.done);
    ck_assert_int_gt(w.rc, 0);
    ck_assert_int_ne(w.rc & POLLIN, 0);
    ck_assert_int_ge(w.end, d.at);
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    close_channel(fds);
}
END_TEST

START_TEST(test_fd_wait_pollout_ready)
{
    int fds[2];
    struct waiter w;

    make_channel(_i, fds);
    start_waiter(&w, 'w', fds[1], POLLOUT, -1);
    coop_loop_run();
    ck_assert(w.done);
    ck_assert_int_ne(w.rc & POLLOUT, 0);
    if (_i == 1) {
        /* both asked, only room is there */
        start_waiter(&w, 'w', fds[0], POLLIN | POLLOUT, -1);
        coop_loop_run();
        ck_assert(w.done);
        ck_assert_int_ne(w.rc & POLLOUT, 0);
        ck_assert_int_eq(w.rc & POLLIN, 0);
    }
    close_channel(fds);
}
END_TEST

START_TEST(test_fd_wait_timeout_returns_zero)
{
    int fds[2];
    struct waiter w;

    make_channel(_i, fds);
    start_waiter(&w, 'w', fds[0], POLLIN, 20 * MS);
    ck_assert(!w.done);
    coop_loop_run();
    ck_assert(w.done);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_ge(w.end - w.begin, 20 * MS);
    close_channel(fds);
}
END_TEST

START_TEST(test_fd_wait_timeout_zero_does_not_wait)
{
    int fds[2];
    struct waiter w;

    make_channel(_i, fds);
    start_waiter(&w, 'w', fds[0], POLLIN, 0);
    ck_assert_msg(w.done, "a zero timeout waited");
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    start_waiter(&w, 'w', fds[0], POLLIN, 0);
    ck_assert_msg(w.done, "a zero timeout waited");
    ck_assert_int_ne(w.rc & POLLIN, 0);
    ck_assert(!coop_loop_poll(false));  /* and left nothing behind */
    close_channel(fds);
}
END_TEST

/* ------------------------------------------------------- interrupts */

/* mode 0: wait on a pipe, 1: on a socket, 2: sleep. */
struct intr_probe {
    int fd;             /* -1: sleep */
    bool self_intr;
    int rc1, err1, rc2, err2;
    int stage;
};

static int probe_wait(struct intr_probe *p, int64_t timeout)
{
    if (p->fd < 0)
        return coop_sleep_ns(timeout < 0 ? HOUR : timeout);
    return coop_fd_wait(p->fd, POLLIN, timeout);
}

static void intr_probe_fn(void *opaque)
{
    struct intr_probe *p = opaque;

    p->self_intr = coop_interrupt(coop_self()); /* running, not waiting */
    p->rc1 = probe_wait(p, -1);
    p->err1 = errno;
    p->stage = 1;
    coop_yield();                       /* a plain yield: no loop wait */
    p->rc2 = probe_wait(p, 20 * MS);
    p->err2 = errno;
    p->stage = 2;
}

START_TEST(test_interrupt_ends_wait_with_eintr_and_is_not_kept)
{
    int fds[2] = { -1, -1 };
    struct intr_probe p;
    coop_t *co;

    memset(&p, 0, sizeof(p));
    if (_i < 2)
        make_channel(_i, fds);
    p.fd = fds[0];
    co = spawn(intr_probe_fn, &p);
    ck_assert(!coop_interrupt(co));     /* not started: nothing to end */
    coop_enter(co);
    ck_assert(!p.self_intr);
    ck_assert_int_eq(p.stage, 0);       /* waits, and was not interrupted */
    ck_assert(coop_interrupt(co));
    coop_loop_run();
    ck_assert_int_eq(p.stage, 1);
    ck_assert_int_eq(p.rc1, -1);
    ck_assert_int_eq(p.err1, EINTR);

    ck_assert(!coop_interrupt(co));     /* suspended, not waiting */
    coop_enter(co);
    ck_assert_int_eq(p.stage, 1);
    coop_loop_run();
    ck_assert_int_eq(p.stage, 2);
    ck_assert_msg(p.rc2 == 0, "the later wait returned %d (errno %d): an "
                  "interrupt was kept", p.rc2, p.err2);
    if (_i < 2)
        close_channel(fds);
}
END_TEST

struct remote_intr {
    coop_t *co;
    int result;
};

static void *interrupter_thread(void *opaque)
{
    struct remote_intr *r = opaque;

    pause_ns(5 * MS); /* likely blocked in its poll by now */
    r->result = coop_interrupt(r->co);
    return NULL;
}

/* mode 0: a descriptor wait, 1: a sleep. */
START_TEST(test_interrupt_from_other_thread)
{
    int fds[2];
    struct waiter w;
    struct sleeper s;
    struct remote_intr r = { NULL, -1 };
    pthread_t t;

    make_channel(0, fds);
    if (_i == 0) {
        start_waiter(&w, 'w', fds[0], POLLIN, -1);
        ck_assert(!w.done);
        r.co = w.co;
    } else {
        start_sleeper(&s, 's', HOUR);
        r.co = s.co;
    }
    ck_assert_int_eq(pthread_create(&t, NULL, interrupter_thread, &r), 0);
    coop_loop_run();
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(r.result, 1);
    if (_i == 0) {
        ck_assert(w.done);
        ck_assert_int_eq(w.rc, -1);
        ck_assert_int_eq(w.err, EINTR);
    } else {
        ck_assert(s.done);
        ck_assert_int_eq(s.rc, -1);
        ck_assert_int_eq(s.err, EINTR);
    }
    close_channel(fds);
}
END_TEST

/* ------------------------------------------------ fd wait errors */

START_TEST(test_fd_wait_same_events_twice_is_eexist)
{
    int s[2];
    struct waiter a, c;

    make_channel(1, s);
    start_waiter(&a, 'a', s[0], POLLIN, -1);
    ck_assert(!a.done);
    expect_wait_error(s[0], POLLIN, EEXIST);
    expect_wait_error(s[0], POLLIN | POLLOUT, EEXIST); /* POLLIN is taken */

    /* the other direction of the same descriptor is free */
    start_waiter(&c, 'c', s[0], POLLOUT, -1);
    while (!c.done)
        coop_loop_poll(true);
    ck_assert_int_ne(c.rc & POLLOUT, 0);
    ck_assert(!a.done);
    ck_assert_int_eq(write(s[1], "x", 1), 1);
    coop_loop_run();
    ck_assert(a.done);
    ck_assert_int_ne(a.rc & POLLIN, 0);
    close_channel(s);
}
END_TEST

START_TEST(test_fd_wait_closed_descriptor_is_ebadf)
{
    int fds[2];

    /* the loop's own descriptors first: they must not take the numbers */
    ck_assert_ptr_nonnull(coop_loop_self());
    make_channel(0, fds);
    close_channel(fds);
    expect_wait_error(fds[0], POLLIN, EBADF);
    expect_wait_error(fds[1], POLLOUT, EBADF);
    expect_wait_error(-1, POLLIN, EBADF);
}
END_TEST

START_TEST(test_fd_wait_without_in_or_out_is_einval)
{
    int fds[2];

    make_channel(0, fds);
    expect_wait_error(fds[0], 0, EINVAL);
    expect_wait_error(fds[0], POLLPRI, EINVAL);
    close_channel(fds);
}
END_TEST

START_TEST(test_fd_wait_regular_file_is_ready)
{
    FILE *f = tmpfile();
    struct pollfd pfd;
    struct waiter w;
    int fd;

    ck_assert_ptr_nonnull(f);
    fd = fileno(f);
    pfd.fd = fd;
    pfd.events = POLLIN | POLLOUT;
    ck_assert_int_eq(poll(&pfd, 1, 0), 1);
    ck_assert_int_eq(pfd.revents & (POLLIN | POLLOUT), POLLIN | POLLOUT);

    start_waiter(&w, 'w', fd, POLLIN | POLLOUT, -1);
    coop_loop_run();
    ck_assert(w.done);
    ck_assert_int_eq(w.rc & (POLLIN | POLLOUT), POLLIN | POLLOUT);
    start_waiter(&w, 'w', fd, POLLIN, 0);
    coop_loop_run();
    ck_assert(w.done);
    ck_assert_int_ne(w.rc & POLLIN, 0);
    fclose(f);
}
END_TEST

/*
 * A wait on a pipe ends (0: ready, with the byte left unread; 1: timed
 * out; 2: interrupted); both ends are closed and new descriptors get the
 * same numbers (a pipe, then a socketpair): their waits must time out
 * while nothing is there, and see data once it is.
 */
START_TEST(test_fd_number_reused_after_close)
{
    int old[2], fds[2];
    struct waiter w;

    make_channel(0, old);
    start_waiter(&w, 'a', old[0], POLLIN, _i == 1 ? 5 * MS : -1);
    ck_assert(!w.done);
    if (_i == 0)
        ck_assert_int_eq(write(old[1], "x", 1), 1);
    else if (_i == 2)
        ck_assert(coop_interrupt(w.co));
    coop_loop_run();
    ck_assert(w.done);
    if (_i == 0)
        ck_assert_int_ne(w.rc & POLLIN, 0);
    else if (_i == 1)
        ck_assert_int_eq(w.rc, 0);
    else
        ck_assert(w.rc == -1 && w.err == EINTR);
    close_channel(old);

    for (int kind = 0; kind < 2; kind++) {
        struct delayed_write d = { 0, 2 * MS, "y", 0, -2, false };

        make_channel(kind, fds);
        ck_assert_int_eq(fds[0], old[0]);
        ck_assert_int_eq(fds[1], old[1]);
        d.fd = fds[1];

        start_waiter(&w, 'b', fds[0], POLLIN, 10 * MS);
        coop_loop_run();
        ck_assert(w.done);
        ck_assert_msg(w.rc == 0, "kind %d: wait on an empty reused number "
                      "returned %d (errno %d)", kind, w.rc, w.err);

        start_waiter(&w, 'c', fds[0], POLLIN, -1);
        ck_assert(!w.done);
        coop_enter(spawn(delayed_write_fn, &d));
        coop_loop_run();
        ck_assert(w.done);
        ck_assert_int_ne(w.rc & POLLIN, 0);

        start_waiter(&w, 'd', fds[1], POLLOUT, -1);
        coop_loop_run();
        ck_assert(w.done);
        ck_assert_int_ne(w.rc & POLLOUT, 0);
        close_channel(fds);
    }
}
END_TEST

/* ------------------------------------------------- read/write/accept */

/* Non-blocking, not close-on-exec: coop_accept has to add that itself. */
static int tcp_listener(struct sockaddr_in *addr)
{
    socklen_t len = sizeof(*addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    ck_assert_int_ge(fd, 0);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    return fd;
}

static int tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    return fd;
}

struct tcp_server {
    int lfd, fd, fl, fdfl;
    struct sockaddr_in peer;
    socklen_t peer_len;
    char got[16];
    ssize_t got_n, last, wrote;
    int err;
    bool done;
};

static void server_fn(void *opaque)
{
    struct tcp_server *s = opaque;

    s->peer_len = sizeof(s->peer);
    s->fd = coop_accept(s->lfd, (struct sockaddr *)&s->peer, &s->peer_len,
                        -1);
    if (s->fd < 0) {
        s->err = errno;
        s->done = true;
        return;
    }
    s->fl = fcntl(s->fd, F_GETFL);
    s->fdfl = fcntl(s->fd, F_GETFD);
    /* to end of file: the client shuts its side after "ping" */
    for (;;) {
        ssize_t n = coop_read(s->fd, s->got + s->got_n,
                              sizeof(s->got) - 1 - (size_t)s->got_n, -1);

        if (n <= 0) {
            s->last = n;
            s->err = errno;
            break;
        }
        s->got_n += n;
    }
    s->wrote = coop_write(s->fd, "pong", 4, -1);
    close(s->fd);
    s->done = true;
}

struct tcp_client {
    const struct sockaddr_in *addr;
    int rc, err;
    int64_t wrote_at;
    ssize_t wrote;
    char got[16];
    ssize_t got_n, last;
    bool done;
};

static void client_fn(void *opaque)
{
    struct tcp_client *c = opaque;
    int fd = tcp_socket();

    c->rc = coop_connect(fd, (const struct sockaddr *)c->addr,
                         sizeof(*c->addr), -1);
    c->err = errno;
    if (c->rc == 0) {
        coop_sleep_ns(2 * MS); /* the server's read has to wait */
        c->wrote_at = now_ns();
        c->wrote = coop_write(fd, "ping", 4, -1);
        shutdown(fd, SHUT_WR);
        for (;;) {
            ssize_t n = coop_read(fd, c->got + c->got_n,
                                  sizeof(c->got) - 1 - (size_t)c->got_n, -1);

            if (n <= 0) {
                c->last = n;
                break;
            }
            c->got_n += n;
        }
    }
    close(fd);
    c->done = true;
}

START_TEST(test_tcp_accept_connect_read_write)
{
    struct sockaddr_in addr;
    struct tcp_server s;
    struct tcp_client c;

    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    s.lfd = tcp_listener(&addr);
    c.addr = &addr;
    coop_enter(spawn(server_fn, &s));
    ck_assert(!s.done);                 /* no connection yet */
    coop_enter(spawn(client_fn, &c));
    coop_loop_run();

    ck_assert(s.done);
    ck_assert(c.done);
    ck_assert_msg(c.rc == 0, "coop_connect: %s", strerror(c.err));
    ck_assert_msg(s.fd >= 0, "coop_accept: %s", strerror(s.err));
    ck_assert_uint_eq(s.peer_len, sizeof(struct sockaddr_in));
    ck_assert_int_eq(s.peer.sin_family, AF_INET);
    ck_assert_int_ne(s.fl & O_NONBLOCK, 0);
    ck_assert_int_ne(s.fdfl & FD_CLOEXEC, 0);
    ck_assert_int_eq(c.wrote, 4);
    ck_assert_int_eq(s.got_n, 4);
    ck_assert_str_eq(s.got, "ping");
    ck_assert_int_eq(s.last, 0);        /* end of file */
    ck_assert_int_eq(s.wrote, 4);
    ck_assert_str_eq(c.got, "pong");
    ck_assert_int_eq(c.last, 0);
    close(s.lfd);
}
END_TEST

struct pipe_reader {
    int fd;
    char buf[64];
    ssize_t n1, n2;
    int stage;
};

static void pipe_reader_fn(void *opaque)
{
    struct pipe_reader *r = opaque;

    r->n1 = coop_read(r->fd, r->buf, sizeof(r->buf) - 1, -1);
    r->stage = 1;
    r->n2 = coop_read(r->fd, r->buf + 32, 16, -1);
    r->stage = 2;
}

struct pipe_writer {
    int fd;
    ssize_t n;
};

static void pipe_writer_fn(void *opaque)
{
    struct pipe_writer *w = opaque;

    coop_sleep_ns(2 * MS);
    w->n = coop_write(w->fd, "hello", 5, -1);
    coop_sleep_ns(2 * MS);
    close(w->fd);
}

START_TEST(test_pipe_read_waits_for_data_then_eof)
{
    int fds[2];
    struct pipe_reader r;
    struct pipe_writer w = { -1, -2 };

    memset(&r, 0, sizeof(r));
    make_channel(0, fds);
    r.fd = fds[0];
    w.fd = fds[1];
    coop_enter(spawn(pipe_reader_fn, &r));
    ck_assert_int_eq(r.stage, 0);       /* waits for input */
    coop_enter(spawn(pipe_writer_fn, &w));
    coop_loop_run();
    ck_assert_int_eq(w.n, 5);
    ck_assert_int_eq(r.stage, 2);
    ck_assert_int_eq(r.n1, 5);
    ck_assert_mem_eq(r.buf, "hello", 5);
    ck_assert_int_eq(r.n2, 0);          /* the writer closed */
    close(fds[0]);
}
END_TEST

enum { OP_READ, OP_WRITE, OP_ACCEPT, OP_CONNECT };

struct timed_op {
    int op, fd;
    int64_t timeout;
    const struct sockaddr_in *addr;
    int64_t begin, end;
    ssize_t rc;
    int err;
    bool done;
};

static void timed_op_fn(void *opaque)
{
    struct timed_op *t = opaque;
    char c = 'x';

    t->begin = now_ns();
    switch (t->op) {
    case OP_READ:
        t->rc = coop_read(t->fd, &c, 1, t->timeout);
        break;
    case OP_WRITE:
        t->rc = coop_write(t->fd, &c, 1, t->timeout);
        break;
    case OP_ACCEPT:
        t->rc = coop_accept(t->fd, NULL, NULL, t->timeout);
        break;
    default:
        t->rc = coop_connect(t->fd, (const struct sockaddr *)t->addr,
                             sizeof(*t->addr), t->timeout);
        break;
    }
    t->err = errno;
    t->end = now_ns();
    t->done = true;
}

static void run_op(struct timed_op *t, int op, int fd, int64_t timeout)
{
    const struct sockaddr_in *addr = t->addr;

    memset(t, 0, sizeof(*t));
    t->op = op;
    t->fd = fd;
    t->timeout = timeout;
    t->addr = addr;
    coop_enter(spawn(timed_op_fn, t));
    coop_loop_run();
    ck_assert(t->done);
}

static void expect_timeout(int op, int fd)
{
    struct timed_op t = { 0 };

    run_op(&t, op, fd, 10 * MS);
    ck_assert_msg(t.rc == -1 && t.err == ETIMEDOUT,
                  "op %d: %zd, errno %d (%s)", op, t.rc, t.err,
                  strerror(t.err));
    ck_assert_int_ge(t.end - t.begin, 10 * MS);
}

START_TEST(test_io_timeouts_are_etimedout)
{
    int fds[2], lfd;
    char fill[4096];
    struct sockaddr_in addr;

    make_channel(0, fds);
    expect_timeout(OP_READ, fds[0]);
    memset(fill, 'f', sizeof(fill));
    while (write(fds[1], fill, sizeof(fill)) > 0)
        ;
    ck_assert_int_eq(errno, EAGAIN);    /* full */
    expect_timeout(OP_WRITE, fds[1]);
    close_channel(fds);

    lfd = tcp_listener(&addr);
    expect_timeout(OP_ACCEPT, lfd);
    close(lfd);
}
END_TEST

#define BIG (1 << 20)

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 131 + (i >> 9));
}

struct big_writer {
    int fd;
    const unsigned char *buf;
    ssize_t rc;
    int err;
    bool done;
};

static void big_writer_fn(void *opaque)
{
    struct big_writer *w = opaque;

    w->rc = coop_write(w->fd, w->buf, BIG, -1);
    w->err = errno;
    w->done = true;
    close(w->fd); /* the reader then sees end of file */
}

struct big_reader {
    int fd;
    size_t total;
    long bad_at;
    int reads;
    ssize_t last;
};

static void big_reader_fn(void *opaque)
{
    struct big_reader *r = opaque;
    unsigned char chunk[4096];

    for (;;) {
        ssize_t n = coop_read(r->fd, chunk, sizeof(chunk), -1);

        if (n <= 0) {
            r->last = n;
            return;
        }
        for (ssize_t k = 0; k < n; k++)
            if (r->bad_at < 0 && chunk[k] != pattern(r->total + (size_t)k))
                r->bad_at = (long)(r->total + (size_t)k);
        r->total += (size_t)n;
        r->reads++;
    }
}

START_TEST(test_large_write_through_socketpair_while_reader_drains)
{
    int s[2], small = 16 << 10;
    unsigned char *buf = malloc(BIG);
    struct big_writer w = { 0 };
    struct big_reader r = { 0 };

    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pattern(i);
    make_channel(1, s);
    /* small buffers: 1 MiB needs many waits for room */
    setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(s[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    w.fd = s[0];
    w.buf = buf;
    r.fd = s[1];
    r.bad_at = -1;
    r.last = -2;
    coop_enter(spawn(big_writer_fn, &w));
    ck_assert(!w.done);                 /* the buffer filled: it waits */
    coop_enter(spawn(big_reader_fn, &r));
    coop_loop_run();
    ck_assert(w.done);
    ck_assert_msg(w.rc == BIG, "coop_write: %zd (%s)", w.rc, strerror(w.err));
    ck_assert_uint_eq(r.total, BIG);
    ck_assert_int_eq(r.bad_at, -1);
    ck_assert_int_eq(r.last, 0);
    ck_assert_int_gt(r.reads, 1);
    close(s[1]);
    free(buf);
}
END_TEST

struct epipe_writer {
    int fd;
    int err, writes;
};

/* Write until the peer's reset turns into EPIPE (TCP reports the reset
 * itself, ECONNRESET, first). */
static void epipe_writer_fn(void *opaque)
{
    struct epipe_writer *e = opaque;

    for (e->writes = 0; e->writes < 1000; e->writes++) {
        if (coop_write(e->fd, "x", 1, -1) < 0) {
            e->err = errno;
            if (e->err != ECONNRESET)
                return;
        }
        coop_sleep_ns(1 * MS);
    }
}

START_TEST(test_write_to_closed_peer_is_epipe_without_sigpipe)
{
    int s[2], lfd, cfd, afd;
    struct sockaddr_in addr;
    struct epipe_writer e = { -1, 0, 0 };

    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would end this test */

    make_channel(1, s);
    close(s[1]);
    e.fd = s[0];
    coop_enter(spawn(epipe_writer_fn, &e));
    coop_loop_run();
    ck_assert_int_eq(e.err, EPIPE);
    close(s[0]);

    lfd = tcp_listener(&addr);
    cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(cfd, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    afd = accept(lfd, NULL, NULL); /* connect() returned: it is queued */
    ck_assert_int_ge(afd, 0);
    close(afd);
    ck_assert_int_eq(fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) | O_NONBLOCK), 0);
    e.fd = cfd;
    e.err = 0;
    coop_enter(spawn(epipe_writer_fn, &e));
    coop_loop_run();
    ck_assert_msg(e.err == EPIPE, "after %d writes: errno %d (%s)", e.writes,
                  e.err, strerror(e.err));
    close(cfd);
    close(lfd);
}
END_TEST

START_TEST(test_connect_to_closed_port_is_econnrefused)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    struct timed_op t = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0), c;

    /* a port that was just free, with nobody listening on it */
    ck_assert_int_ge(fd, 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);

    c = tcp_socket();
    t.addr = &addr;
    run_op(&t, OP_CONNECT, c, -1);
    ck_assert_msg(t.rc == -1 && t.err == ECONNREFUSED, "%zd, errno %d (%s)",
                  t.rc, t.err, strerror(t.err));
    close(c);
}
END_TEST

/* ------------------------------------------------------------ schedule */

static const char tags[] = "abcdefghXYZ";

START_TEST(test_schedule_from_own_thread_runs_at_next_poll_in_order)
{
    coop_loop_t *loop = coop_loop_self();

    ck_assert_ptr_nonnull(loop);
    events_reset();
    for (int i = 0; i < 8; i++)
        coop_schedule(loop, spawn(tag_fn, (void *)&tags[i]));
    ck_assert_str_eq(log_buf, "");       /* not at once */
    ck_assert(coop_loop_poll(false));
    ck_assert_str_eq(log_buf, "abcdefgh");
    ck_assert(!coop_loop_poll(false));
}
END_TEST

/* Schedules Y and Z, then itself (the running coroutine, own loop). */
static void schedule_others_fn(void *opaque)
{
    coop_t **yz = opaque;
    coop_loop_t *loop = coop_loop_self();

    coop_schedule(loop, yz[0]);
    coop_schedule(loop, yz[1]);
    event('x');
    coop_schedule(loop, coop_self());
    coop_yield();
    event('X');
}

START_TEST(test_schedule_from_coroutine_waits_for_poll)
{
    coop_t *yz[2];

    events_reset();
    yz[0] = spawn(tag_fn, (void *)&tags[9]);
    yz[1] = spawn(tag_fn, (void *)&tags[10]);
    coop_enter(spawn(schedule_others_fn, yz));
    ck_assert_str_eq(log_buf, "x");      /* scheduled is not woken */
    ck_assert(coop_loop_poll(false));
    ck_assert_str_eq(log_buf, "xYZX");
    ck_assert(!coop_loop_poll(false));
}
END_TEST

#define REMOTE 64

struct remote;

struct remote_item {
    struct remote *r;
    int index;
};

struct remote {
    coop_loop_t *loop;
    pthread_t main_thread;
    struct remote_item item[REMOTE];
    int order[REMOTE];
    int n, created, wrong_thread;
};

static void remote_fn(void *opaque)
{
    struct remote_item *it = opaque;
    struct remote *r = it->r;

    if (!pthread_equal(current_thread(), r->main_thread))
        r->wrong_thread++;
    if (r->n < REMOTE)
        r->order[r->n] = it->index;
    r->n++;
}

/* Creates coroutines here (never entered) and schedules them into the
 * main thread's held loop, pausing halfway so that it blocks meanwhile. */
static void *scheduler_thread(void *opaque)
{
    struct remote *r = opaque;

    for (int i = 0; i < REMOTE; i++) {
        coop_t *co;

        r->item[i].r = r;
        r->item[i].index = i;
        co = coop_create(remote_fn, &r->item[i]);
        if (co == NULL)
            break;
        r->created++;
        coop_schedule(r->loop, co);
        if (i == REMOTE / 2)
            pause_ns(5 * MS);
    }
    coop_loop_release(r->loop);
    return NULL;
}

START_TEST(test_schedule_from_other_thread_into_held_loop)
{
    struct remote r;
    pthread_t t;

    memset(&r, 0, sizeof(r));
    r.loop = coop_loop_self();
    r.main_thread = pthread_self();
    ck_assert_ptr_nonnull(r.loop);
    coop_loop_hold(r.loop);
    ck_assert_int_eq(pthread_create(&t, NULL, scheduler_thread, &r), 0);
    coop_loop_run();
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(r.created, REMOTE);
    ck_assert_int_eq(r.n, REMOTE);
    ck_assert_int_eq(r.wrong_thread, 0);
    for (int i = 0; i < REMOTE; i++)
        ck_assert_int_eq(r.order[i], i);
}
END_TEST

/* ---------------------------------------------------------------- home */

struct fresh_home {
    coop_loop_t *before, *loop, *after;
};

static void *fresh_home_thread(void *opaque)
{
    struct fresh_home *h = opaque;
    coop_t *co = coop_create(coop_test_noop, NULL);

    if (co == NULL)
        return NULL;
    h->before = coop_home(co);          /* this thread has made no loop */
    h->loop = coop_loop_self();
    h->after = coop_home(co);
    coop_enter(co);
    return NULL;
}

START_TEST(test_home_of_new_coroutine_is_creating_threads_loop)
{
    struct fresh_home h = { (coop_loop_t *)&h, NULL, NULL };
    coop_loop_t *mine = coop_loop_self();
    coop_t *co = spawn(coop_test_noop, NULL);
    pthread_t t;

    ck_assert_ptr_eq(coop_home(co), mine);
    coop_enter(co);
    ck_assert_int_eq(pthread_create(&t, NULL, fresh_home_thread, &h), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_ptr_null(h.before);
    ck_assert_ptr_nonnull(h.loop);
    ck_assert_ptr_ne(h.loop, mine);
    ck_assert_ptr_eq(h.after, h.loop);
}
END_TEST

struct home_hop {
    coop_t *co;
    coop_loop_t *seen[3], *own[3];
    coop_loop_t *t_loop, *t_after;
};

static void home_hop_fn(void *opaque)
{
    struct home_hop *h = opaque;

    for (int i = 0; i < 3; i++) {
        h->seen[i] = coop_home(coop_self());
        h->own[i] = coop_loop_self();
        coop_yield();
    }
}

static void *enter_on_thread(void *opaque)
{
    struct home_hop *h = opaque;

    h->t_loop = coop_loop_self();
    coop_enter(h->co);
    h->t_after = coop_home(h->co);
    return NULL;
}

START_TEST(test_home_follows_the_thread_that_entered)
{
    struct home_hop h;
    coop_loop_t *mine = coop_loop_self();
    pthread_t t;

    memset(&h, 0, sizeof(h));
    h.co = spawn(home_hop_fn, &h);
    coop_enter(h.co);
    ck_assert_ptr_eq(coop_home(h.co), mine);
    ck_assert_int_eq(pthread_create(&t, NULL, enter_on_thread, &h), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    coop_enter(h.co);                   /* back on this thread */
    ck_assert_ptr_eq(coop_home(h.co), mine);
    coop_enter(h.co);                   /* finishes */

    ck_assert_ptr_nonnull(h.t_loop);
    ck_assert_ptr_ne(h.t_loop, mine);
    ck_assert_ptr_eq(h.seen[0], mine);
    ck_assert_ptr_eq(h.own[0], mine);
    ck_assert_ptr_eq(h.seen[1], h.t_loop);
    ck_assert_ptr_eq(h.own[1], h.t_loop);
    ck_assert_ptr_eq(h.t_after, h.t_loop);
    ck_assert_ptr_eq(h.seen[2], mine);
}
END_TEST

static void wake_home_fn(void *opaque)
{
    event('a');
    coop_wake_home(opaque);
    event('b');
    coop_yield();
    event('c');
}

START_TEST(test_wake_home_on_home_thread_is_wake)
{
    coop_t *x, *y;

    ck_assert_ptr_nonnull(coop_loop_self());
    events_reset();
    y = spawn(tag_fn, (void *)"y");
    x = spawn(wake_home_fn, y);
    coop_enter(x);
    ck_assert_str_eq(log_buf, "aby");    /* run when x yielded, no poll */
    ck_assert(!coop_loop_poll(false));  /* nothing was scheduled */
    coop_enter(x);
    ck_assert_str_eq(log_buf, "abyc");
    coop_wake_home(spawn(tag_fn, (void *)"z")); /* outside: at once */
    ck_assert_str_eq(log_buf, "abycz");
}
END_TEST

struct remote_wake {
    coop_t *co;
    coop_loop_t *loop;
    pthread_t main_thread;
    bool on_main;
    int stage;
};

static void wake_target_fn(void *opaque)
{
    struct remote_wake *r = opaque;

    r->stage = 1;
    coop_yield();
    r->on_main = pthread_equal(current_thread(), r->main_thread);
    r->stage = 2;
}

static void *wake_home_thread(void *opaque)
{
    struct remote_wake *r = opaque;

    pause_ns(2 * MS);
    coop_wake_home(r->co);
    coop_loop_release(r->loop);
    return NULL;
}

START_TEST(test_wake_home_from_other_thread_runs_in_home_loop)
{
    struct remote_wake r;
    pthread_t t;

    memset(&r, 0, sizeof(r));
    r.loop = coop_loop_self();
    r.main_thread = pthread_self();
    coop_loop_hold(r.loop);
    r.co = spawn(wake_target_fn, &r);
    coop_enter(r.co);
    ck_assert_int_eq(r.stage, 1);
    ck_assert_int_eq(pthread_create(&t, NULL, wake_home_thread, &r), 0);
    coop_loop_run();
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(r.stage, 2);
    ck_assert(r.on_main);
}
END_TEST

/* --------------------------------------------------- threads: hops */

#define HOP_THREADS 4
#define HOPS 10000
#define HOPS_SANITIZED 2000

struct hopper {
    coop_loop_t *loops[HOP_THREADS];
    pthread_t threads[HOP_THREADS];
    pthread_barrier_t ready;
    coop_t *co;
    int target, hops;
    int bad_tag, bad_thread, bad_self, bad_home;
    int no_loop, returned[HOP_THREADS];
};

static void hopper_fn(void *opaque)
{
    struct hopper *h = opaque;

    for (int i = 0;; i++) {
        int at = i % HOP_THREADS;

        if (read_thread_tag() != at + 1)
            h->bad_tag++;
        if (!pthread_equal(current_thread(), h->threads[at]))
            h->bad_thread++;
        if (coop_self() != h->co)
            h->bad_self++;
        if (coop_home(coop_self()) != h->loops[at])
            h->bad_home++;
        if (i == h->target)
            break;
        h->hops++;
        coop_schedule(h->loops[(i + 1) % HOP_THREADS], coop_self());
        coop_yield();
    }
    for (int i = 0; i < HOP_THREADS; i++)
        coop_loop_release(h->loops[i]);
}

struct hop_arg {
    struct hopper *h;
    int index;
};

static void *hop_thread(void *opaque)
{
    struct hop_arg *a = opaque;
    struct hopper *h = a->h;
    coop_loop_t *loop = coop_loop_self();

    write_thread_tag(a->index + 1);
    h->threads[a->index] = pthread_self();
    h->loops[a->index] = loop;
    if (loop == NULL) {
        h->no_loop++;
        return NULL; /* the barrier then never opens: the test times out */
    }
    coop_loop_hold(loop);
    pthread_barrier_wait(&h->ready); /* every loop exists and is held */
    if (a->index == 0) {
        h->co = coop_create(hopper_fn, h);
        if (h->co == NULL) {
            for (int i = 0; i < HOP_THREADS; i++)
                coop_loop_release(h->loops[i]);
        } else {
            coop_schedule(loop, h->co);
        }
    }
    coop_loop_run();
    h->returned[a->index] = 1;
    return NULL;
}

START_TEST(test_coroutine_hops_between_four_loops)
{
    struct hopper h;
    struct hop_arg a[HOP_THREADS];
    pthread_t t[HOP_THREADS];

    memset(&h, 0, sizeof(h));
    h.target = under_sanitizer() ? HOPS_SANITIZED : HOPS;
    ck_assert_int_eq(pthread_barrier_init(&h.ready, NULL, HOP_THREADS), 0);
    for (int i = 0; i < HOP_THREADS; i++) {
        a[i].h = &h;
        a[i].index = i;
        ck_assert_int_eq(pthread_create(&t[i], NULL, hop_thread, &a[i]), 0);
    }
    for (int i = 0; i < HOP_THREADS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&h.ready);

    ck_assert_int_eq(h.no_loop, 0);
    ck_assert_ptr_nonnull(h.co);
    ck_assert_int_eq(h.hops, h.target);
    ck_assert_int_eq(h.bad_tag, 0);
    ck_assert_int_eq(h.bad_thread, 0);
    ck_assert_int_eq(h.bad_self, 0);
    ck_assert_int_eq(h.bad_home, 0);
    for (int i = 0; i < HOP_THREADS; i++)
        ck_assert_int_eq(h.returned[i], 1);
}
END_TEST

/* ------------------------------------- threads: wake_home racing yield */

#define RACE_ROUNDS 5000
#define RACE_ROUNDS_SANITIZED 1000

struct race {
    coop_loop_t *loop;
    coop_t *co;
    pthread_t home;
    int rounds;
    int announced;  /* atomic: yields the racer has announced */
    int resumed, wrong_thread, finished, no_loop;
};

static void racer_fn(void *opaque)
{
    struct race *r = opaque;

    for (int i = 0; i < r->rounds; i++) {
        /* from here the waker may wake us, before or after the yield */
        __atomic_store_n(&r->announced, i + 1, __ATOMIC_RELEASE);
        coop_yield();
        r->resumed++;
        if (!pthread_equal(current_thread(), r->home))
            r->wrong_thread++;
    }
    r->finished = 1;
    coop_loop_release(r->loop);
}

static void *race_home_thread(void *opaque)
{
    struct race *r = opaque;

    r->home = pthread_self();
    r->loop = coop_loop_self();
    if (r->loop == NULL) {
        r->no_loop = 1;
        __atomic_store_n(&r->announced, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    coop_loop_hold(r->loop);
    r->co = coop_create(racer_fn, r);
    if (r->co == NULL) {
        __atomic_store_n(&r->announced, -1, __ATOMIC_RELEASE);
        coop_loop_release(r->loop);
        return NULL;
    }
    coop_enter(r->co); /* runs until its first yield */
    coop_loop_run();
    return NULL;
}

static void *race_waker_thread(void *opaque)
{
    struct race *r = opaque;

    for (int i = 1; i <= r->rounds; i++) {
        int seen;

        while ((seen = __atomic_load_n(&r->announced, __ATOMIC_ACQUIRE)) < i &&
               seen >= 0)
            sched_yield();
        if (seen < 0)
            return NULL;
        coop_wake_home(r->co);
    }
    return NULL;
}

START_TEST(test_wake_home_racing_yield_runs_once_per_wake)
{
    struct race r;
    pthread_t home, waker;

    memset(&r, 0, sizeof(r));
    r.rounds = under_sanitizer() ? RACE_ROUNDS_SANITIZED : RACE_ROUNDS;
    ck_assert_int_eq(pthread_create(&home, NULL, race_home_thread, &r), 0);
    ck_assert_int_eq(pthread_create(&waker, NULL, race_waker_thread, &r), 0);
    ck_assert_int_eq(pthread_join(waker, NULL), 0);
    ck_assert_int_eq(pthread_join(home, NULL), 0);
    ck_assert_int_eq(r.no_loop, 0);
    ck_assert_ptr_nonnull(r.co);
    ck_assert_int_eq(r.resumed, r.rounds);
    ck_assert_int_eq(r.finished, 1);
    ck_assert_int_eq(r.wrong_thread, 0);
}
END_TEST

/* ---------------------------------------------------------- hold/release */

struct releaser {
    coop_loop_t *loop;
    int stage; /* atomic */
};

static void *releaser_thread(void *opaque)
{
    struct releaser *r = opaque;

    pause_ns(20 * MS);
    __atomic_store_n(&r->stage, 1, __ATOMIC_SEQ_CST);
    coop_loop_release(r->loop);
    pause_ns(20 * MS);
    __atomic_store_n(&r->stage, 2, __ATOMIC_SEQ_CST);
    coop_loop_release(r->loop);
    return NULL;
}

START_TEST(test_run_waits_while_held_and_release_wakes_it)
{
    struct releaser r = { coop_loop_self(), 0 };
    struct sleeper s;
    pthread_t t;

    ck_assert_ptr_nonnull(r.loop);
    coop_loop_hold(r.loop);
    coop_loop_hold(r.loop);
    start_sleeper(&s, 's', 1 * MS);    /* over long before the holds */
    ck_assert_int_eq(pthread_create(&t, NULL, releaser_thread, &r), 0);
    coop_loop_run();                    /* blocked; only releases end it */
    ck_assert_int_eq(__atomic_load_n(&r.stage, __ATOMIC_SEQ_CST), 2);
    ck_assert(s.done);
    ck_assert_int_eq(pthread_join(t, NULL), 0);

    /* held and released on this thread: run returns at once */
    coop_loop_hold(r.loop);
    coop_loop_release(r.loop);
    coop_loop_run();
}
END_TEST

/* ----------------------------------------------------------------- fork */

struct fork_state {
    struct sleeper s[3];
    struct waiter w;
    int sched_ran;
};

static void count_fn(void *opaque)
{
    (*(int *)opaque)++;
}

static bool parent_work_entered(const struct fork_state *f)
{
    return f->s[0].done || f->s[1].done || f->s[2].done || f->w.done ||
           f->sched_ran != 0;
}

/* In the child: no ck_assert (the child is not the test); bits say what
 * went wrong. */
static int fork_child(struct fork_state *f, int go)
{
    struct sleeper mine;
    coop_t *co;
    char c;
    int bad = 0;

    alarm(20); /* a child stuck in its loop must not outlive the test */
    if (coop_loop_self() == NULL)
        return 1;
    while (read(go, &c, 1) < 0 && errno == EINTR)
        ;                               /* the parent's fd is ready now */
    if (coop_loop_poll(false))
        bad |= 2;                       /* the parent's schedule is not ours */
    coop_loop_run();                    /* nothing: returns at once */
    pause_ns(50 * MS);                  /* past every parent deadline */
    if (coop_loop_poll(false))
        bad |= 4;
    if (parent_work_entered(f))
        bad |= 8;

    /* the fresh loop works */
    memset(&mine, 0, sizeof(mine));
    mine.tag = 'm';
    mine.ns = 1 * MS;
    co = coop_create(sleeper_fn, &mine);
    if (co == NULL)
        return bad | 16;
    coop_enter(co);
    coop_loop_run();
    if (!mine.done || mine.rc != 0)
        bad |= 32;
    return bad;
}

START_TEST(test_fork_child_starts_with_fresh_empty_loop)
{
    struct fork_state f;
    int p[2], go[2], status;
    pid_t pid;

    memset(&f, 0, sizeof(f));
    make_channel(0, p);
    ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
    for (int i = 0; i < 3; i++)
        start_sleeper(&f.s[i], (char)('a' + i), (10 + 10 * i) * MS);
    start_waiter(&f.w, 'w', p[0], POLLIN, -1);
    ck_assert(!f.w.done);
    coop_schedule(coop_loop_self(), spawn(count_fn, &f.sched_ran));

    fflush(NULL);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0)
        _exit(fork_child(&f, go[0]));

    /* the parent's descriptor becomes ready while the child polls */
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child %s %d", WIFEXITED(status) ? "failed checks" :
                  "died of signal", WIFEXITED(status) ? WEXITSTATUS(status)
                  : WTERMSIG(status));

    /* the parent's waits go on */
    ck_assert(!parent_work_entered(&f));
    coop_loop_run();
    for (int i = 0; i < 3; i++) {
        ck_assert(f.s[i].done);
        ck_assert_int_eq(f.s[i].rc, 0);
        ck_assert(f.s[i].woke >= f.s[i].lo);
    }
    ck_assert(f.w.done);
    ck_assert_int_ne(f.w.rc & POLLIN, 0);
    ck_assert_int_eq(f.sched_ran, 1);
    close_channel(p);
    close_channel(go);
}
END_TEST

/* --------------------------------------------------------------- misuse */

/* Each misuse_* commits one misuse; none may return normally. */

static void poll_inside_fn(void *opaque)
{
    (void)opaque;
    coop_loop_poll(false);
}

static void run_inside_fn(void *opaque)
{
    (void)opaque;
    coop_loop_run();
}

static void misuse_poll_inside(void *arg)
{
    (void)arg;
    coop_enter(coop_create(poll_inside_fn, NULL));
}

static void misuse_run_inside(void *arg)
{
    (void)arg;
    coop_enter(coop_create(run_inside_fn, NULL));
}

static void misuse_sleep_outside(void *arg)
{
    (void)arg;
    coop_sleep_ns(1 * MS);
}

static int misuse_fds[2];

static void misuse_fd_wait_outside(void *arg)
{
    (void)arg;
    coop_fd_wait(misuse_fds[1], POLLOUT, 0);
}

static void misuse_read_outside(void *arg)
{
    char c;

    (void)arg;
    coop_read(misuse_fds[0], &c, 1, 0);
}

static void misuse_write_outside(void *arg)
{
    (void)arg;
    coop_write(misuse_fds[1], "x", 1, 0);
}

static void misuse_accept_outside(void *arg)
{
    (void)arg;
    coop_accept(misuse_fds[0], NULL, NULL, 0);
}

static void misuse_connect_outside(void *arg)
{
    struct sockaddr_in addr;

    (void)arg;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    coop_connect(misuse_fds[0], (const struct sockaddr *)&addr, sizeof(addr),
                 0);
}

static void misuse_schedule_twice(void *arg)
{
    coop_loop_t *loop = coop_loop_self();
    coop_t *co = coop_create(coop_test_noop, NULL);

    (void)arg;
    coop_schedule(loop, co);
    coop_schedule(loop, co);
}

static void misuse_release_unheld(void *arg)
{
    (void)arg;
    coop_loop_release(coop_loop_self());
}

static void misuse_release_twice(void *arg)
{
    coop_loop_t *loop = coop_loop_self();

    (void)arg;
    coop_loop_hold(loop);
    coop_loop_release(loop);
    coop_loop_release(loop);
}

/* The child of fork has no loop: a new coroutine there has no home loop. */
static void misuse_wake_home_no_loop(void *arg)
{
    (void)arg;
    coop_wake_home(coop_create(coop_test_noop, NULL));
}

static pthread_mutex_t no_loop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t no_loop_cv = PTHREAD_COND_INITIALIZER;
static coop_t *no_loop_co;

/* Creates a coroutine and stays, never making a loop. */
static void *no_loop_thread(void *opaque)
{
    coop_t *co = coop_create(coop_test_noop, NULL);

    (void)opaque;
    pthread_mutex_lock(&no_loop_mu);
    no_loop_co = co;
    pthread_cond_broadcast(&no_loop_cv);
    for (;;)
        pthread_cond_wait(&no_loop_cv, &no_loop_mu);
    return NULL;
}

/* From another thread than the home one, whose thread has no loop. */
static void misuse_wake_home_no_loop_other_thread(void *arg)
{
    pthread_t t;

    (void)arg;
    coop_loop_self(); /* this thread has one; co's home thread has none */
    if (pthread_create(&t, NULL, no_loop_thread, NULL) != 0)
        return;
    pthread_mutex_lock(&no_loop_mu);
    while (no_loop_co == NULL)
        pthread_cond_wait(&no_loop_cv, &no_loop_mu);
    pthread_mutex_unlock(&no_loop_mu);
    coop_wake_home(no_loop_co);
}

static void sleep_hour_fn(void *opaque)
{
    (void)opaque;
    coop_sleep_ns(HOUR);
}

static coop_t *hour_sleeper(void)
{
    coop_t *co = coop_create(sleep_hour_fn, NULL);

    coop_enter(co);
    return co;
}

static void fd_wait_forever_fn(void *opaque)
{
    (void)opaque;
    coop_fd_wait(misuse_fds[0], POLLIN, -1);
}

static coop_t *fd_waiter(void)
{
    coop_t *co = coop_create(fd_wait_forever_fn, NULL);

    coop_enter(co);
    return co;
}

static void misuse_enter_sleeper(void *arg)
{
    (void)arg;
    coop_enter(hour_sleeper());
}

static void misuse_wake_sleeper(void *arg)
{
    (void)arg;
    coop_wake(hour_sleeper());
}

static void misuse_schedule_sleeper(void *arg)
{
    (void)arg;
    coop_schedule(coop_loop_self(), hour_sleeper());
    coop_loop_poll(false); /* reported at the schedule or at the latest here */
}

static void misuse_wake_home_sleeper(void *arg)
{
    (void)arg;
    coop_wake_home(hour_sleeper());
}

static void wake_then_yield_fn(void *opaque)
{
    coop_wake(opaque);
    coop_yield();
}

static void misuse_wake_sleeper_from_coroutine(void *arg)
{
    (void)arg;
    coop_enter(coop_create(wake_then_yield_fn, hour_sleeper()));
}

static void misuse_enter_fd_waiter(void *arg)
{
    (void)arg;
    coop_enter(fd_waiter());
}

static void misuse_schedule_fd_waiter(void *arg)
{
    (void)arg;
    coop_schedule(coop_loop_self(), fd_waiter());
    coop_loop_poll(false); /* reported at the schedule or at the latest here */
}

/* A non-blocking pipe for the misuse children; in the fixture, so that
 * the SIGABRT tests below have it too. */
static void setup_misuse(void)
{
    no_core_dumps();
    ck_assert_int_eq(pipe2(misuse_fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void teardown_misuse(void)
{
    close_channel(misuse_fds);
}

/* One misuse per loop-test index, so that a failure names it. */
static const struct misuse {
    void (*fn)(void *);
    const char *words;
} misuses[] = {
    { misuse_poll_inside, "coop_loop_poll" },
    { misuse_run_inside, "coop_loop_run" },
    { misuse_sleep_outside, "coop_sleep_ns" },
    { misuse_fd_wait_outside, "coop_fd_wait" },
    { misuse_read_outside, "coop_read" },
    { misuse_write_outside, "coop_write" },
    { misuse_accept_outside, "coop_accept" },
    { misuse_connect_outside, "coop_connect" },
    { misuse_schedule_twice, "already scheduled" },
    { misuse_release_unheld, "coop_loop_release" },
    { misuse_release_twice, "coop_loop_release" },
    { misuse_wake_home_no_loop, "coop_wake_home" },
    { misuse_wake_home_no_loop_other_thread, "coop_wake_home" },
    { misuse_enter_sleeper, "waits in the loop" },
    { misuse_wake_sleeper, "waits in the loop" },
    { misuse_schedule_sleeper, "waits in the loop" },
    { misuse_wake_home_sleeper, "waits in the loop" },
    { misuse_wake_sleeper_from_coroutine, "waits in the loop" },
    { misuse_enter_fd_waiter, "waits in the loop" },
    { misuse_schedule_fd_waiter, "waits in the loop" },
};

#define N_MISUSES ((int)(sizeof(misuses) / sizeof(misuses[0])))

START_TEST(test_loop_misuse_aborts_with_message)
{
    expect_abort(misuses[_i].fn, NULL, misuses[_i].words);
}
END_TEST

#define ABORT_TEST(name, fn)                                                  \
    START_TEST(name)                                                          \
    {                                                                         \
        fn(NULL);                                                             \
    }                                                                         \
    END_TEST

ABORT_TEST(test_poll_inside_coroutine_raises_sigabrt, misuse_poll_inside)
ABORT_TEST(test_sleep_outside_coroutine_raises_sigabrt, misuse_sleep_outside)
ABORT_TEST(test_schedule_twice_raises_sigabrt, misuse_schedule_twice)
ABORT_TEST(test_release_unheld_raises_sigabrt, misuse_release_unheld)
ABORT_TEST(test_enter_sleeper_raises_sigabrt, misuse_enter_sleeper)

Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc;

    tc = coop_test_tcase(s, "sleep");
    tcase_add_test(tc, test_sleep_returns_zero_after_at_least_ns);
    tcase_add_test(tc, test_sleeps_end_in_deadline_order);
    tcase_add_test(tc, test_equal_sleeps_end_in_order_begun);
    tcase_add_test(tc, test_sleep_zero_or_negative_yields_once_to_next_poll);
    tcase_add_test(tc, test_poll_returns_whether_it_entered);
    tcase_add_test(tc, test_run_returns_at_once_with_nothing_to_wait_for);
    tcase_add_test(tc, test_hundred_thousand_sleepers_wake_in_deadline_order);

    /* loop tests: _i 0 is a pipe, 1 a socketpair */
    tc = coop_test_tcase(s, "fd");
    tcase_add_loop_test(tc, test_fd_wait_pollin_after_write_from_coroutine,
                        0, 2);
    tcase_add_loop_test(tc, test_fd_wait_pollout_ready, 0, 2);
    tcase_add_loop_test(tc, test_fd_wait_timeout_returns_zero, 0, 2);
    tcase_add_loop_test(tc, test_fd_wait_timeout_zero_does_not_wait, 0, 2);
    tcase_add_test(tc, test_fd_wait_same_events_twice_is_eexist);
    tcase_add_test(tc, test_fd_wait_closed_descriptor_is_ebadf);
    tcase_add_test(tc, test_fd_wait_without_in_or_out_is_einval);
    tcase_add_test(tc, test_fd_wait_regular_file_is_ready);
    tcase_add_loop_test(tc, test_fd_number_reused_after_close, 0, 3);

    tc = coop_test_tcase(s, "interrupt");
    tcase_add_loop_test(tc, test_interrupt_ends_wait_with_eintr_and_is_not_kept,
                        0, 3);
    tcase_add_loop_test(tc, test_interrupt_from_other_thread, 0, 2);

    tc = coop_test_tcase(s, "io");
    tcase_add_test(tc, test_tcp_accept_connect_read_write);
    tcase_add_test(tc, test_pipe_read_waits_for_data_then_eof);
    tcase_add_test(tc, test_io_timeouts_are_etimedout);
    tcase_add_test(tc, test_large_write_through_socketpair_while_reader_drains);
    tcase_add_test(tc, test_write_to_closed_peer_is_epipe_without_sigpipe);
    tcase_add_test(tc, test_connect_to_closed_port_is_econnrefused);

    tc = coop_test_tcase(s, "schedule");
    tcase_add_test(tc, test_schedule_from_own_thread_runs_at_next_poll_in_order);
    tcase_add_test(tc, test_schedule_from_coroutine_waits_for_poll);
    tcase_add_test(tc, test_schedule_from_other_thread_into_held_loop);
    tcase_add_test(tc, test_home_of_new_coroutine_is_creating_threads_loop);
    tcase_add_test(tc, test_home_follows_the_thread_that_entered);
    tcase_add_test(tc, test_wake_home_on_home_thread_is_wake);
    tcase_add_test(tc, test_wake_home_from_other_thread_runs_in_home_loop);

    tc = coop_test_tcase(s, "loop-threads");
    tcase_add_test(tc, test_coroutine_hops_between_four_loops);
    tcase_add_test(tc, test_wake_home_racing_yield_runs_once_per_wake);
    tcase_add_test(tc, test_run_waits_while_held_and_release_wakes_it);
    tcase_add_test(tc, test_fork_child_starts_with_fresh_empty_loop);

    tc = coop_test_tcase(s, "loop-misuse");
    tcase_add_checked_fixture(tc, setup_misuse, teardown_misuse);
    tcase_add_loop_test(tc, test_loop_misuse_aborts_with_message, 0,
                        N_MISUSES);
    tcase_add_test_raise_signal(tc, test_poll_inside_coroutine_raises_sigabrt,
                                SIGABRT);
    tcase_add_test_raise_signal(tc, test_sleep_outside_coroutine_raises_sigabrt,
                                SIGABRT);
    tcase_add_test_raise_signal(tc, test_schedule_twice_raises_sigabrt,
                                SIGABRT);
    tcase_add_test_raise_signal(tc, test_release_unheld_raises_sigabrt,
                                SIGABRT);
    tcase_add_test_raise_signal(tc, test_enter_sleeper_raises_sigabrt,
                                SIGABRT);
    return s;
}
