/* SPDX-License-Identifier: MIT */
/*
 * The program tests/check-gdb.sh debugs: it sets up coroutines in every
 * state the gdb extension reports, then stops in gdb_target_stop() (where
 * the debugger has a breakpoint) from inside a running coroutine:
 *
 *   name           state       suspended in
 *   outer          running     coop_enter() of "runner" (up the chain)
 *   runner         running     gdb_target_stop(), on the main thread
 *   sleeper        suspended   sleeper_deep() <- sleeper_mid() <- sleeper_fn()
 *   deep           suspended   after touching ~100 KiB of its stack
 *   queue-waiter   waiting     coop_queue_wait()
 *   mutex-waiter   waiting     coop_mutex_lock()
 *   wakee          woken       coop_yield() in wakee_fn(), woken by runner
 *   waker          suspended   coop_yield() in waker_fn(), after waking wakee
 *   fresh          new         (never entered)
 *   finished       pooled      (returned)
 *   t2-blocked     running     read() on a pipe, on a second thread
 *
 * On the x86-64 asm backend, every coroutine here that yields does so
 * through coop_yield()'s fast path (its frame saved at the call) except
 * waker, whose coop_yield() takes core's slow path (it woke wakee), and
 * outer enters runner through coop_enter()'s fast path.  "coop bt" must
 * show the calls marked "check-gdb: NAME's line" at those lines.
 *
 * With the argument "abort" it traps (SIGILL or SIGTRAP) instead of
 * returning from gdb_target_stop(), for a kernel core dump: in its own
 * code, so that the core's backtrace needs nothing from the C library's
 * unwind information (gdb cannot unwind musl's abort()).  The gdb_target_* variables
 * hold some handles for "coop bt" (an expression that needs no debug
 * information: coop bt *(void **)&gdb_target_sleeper).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coop.h>

#define NOINLINE __attribute__((noinline, noclone))

static volatile int sink;   /* defeats tail calls and dead-code removal */
static int abort_at_stop;

static coop_queue_t queue = COOP_QUEUE_INITIALIZER(queue);
static coop_mutex_t mutex = COOP_MUTEX_INITIALIZER(mutex);
static coop_t *wakee, *runner;
/* used: link-time optimisation would drop what only the debugger reads */
#define GDB_TARGET_HANDLE __attribute__((used)) coop_t *
GDB_TARGET_HANDLE gdb_target_sleeper;
GDB_TARGET_HANDLE gdb_target_queue_waiter;
GDB_TARGET_HANDLE gdb_target_outer;
GDB_TARGET_HANDLE gdb_target_fresh;
GDB_TARGET_HANDLE gdb_target_runner;
GDB_TARGET_HANDLE gdb_target_waker;
static int t2_pipe[2];
static pthread_barrier_t t2_started;

/* Every coroutine gets 256 KiB but "finished": the pool would recycle it. */
static coop_t *make_sized(const char *name, coop_fn fn, size_t stack_size)
{
    coop_attr_t attr;
    coop_t *co;

    coop_attr_init(&attr);
    attr.name = name;
    attr.stack_size = stack_size;
    co = coop_create_attr(&attr, fn, NULL);
    if (!co) {
        perror("coop_create_attr");
        exit(EXIT_FAILURE);
    }
    return co;
}

static coop_t *make(const char *name, coop_fn fn)
{
    return make_sized(name, fn, 256 * 1024);
}

/* The breakpoint.  Exported so that it keeps its name at any -O. */
NOINLINE void gdb_target_stop(void);
NOINLINE void gdb_target_stop(void)
{
    __asm__ volatile("" ::: "memory");
    if (abort_at_stop)
        __builtin_trap();
    sink++;
}

NOINLINE static void sleeper_deep(int n)
{
    sink += n;
    coop_yield(); /* check-gdb: sleeper's line */
    sink++;
}

NOINLINE static void sleeper_mid(int n)
{
    sleeper_deep(n + 1);
    sink++;
}

static void sleeper_fn(void *opaque)
{
    (void)opaque;
    sleeper_mid(1);
    sink++;
}

NOINLINE static void deep_touch(void)
{
    char buf[100 * 1024];

    memset(buf, 0x5a, sizeof(buf));
    __asm__ volatile("" : : "r"(buf) : "memory"); /* keep every byte */
    coop_yield();
    sink += buf[0];
}

static void deep_fn(void *opaque)
{
    (void)opaque;
    deep_touch();
    sink++;
}

static void queue_waiter_fn(void *opaque)
{
    (void)opaque;
    coop_queue_wait(&queue, NULL);
    sink++;
}

static void mutex_waiter_fn(void *opaque)
{
    (void)opaque;
    coop_mutex_lock(&mutex);
    coop_mutex_unlock(&mutex);
    sink++;
}

static void wakee_fn(void *opaque)
{
    (void)opaque;
    for (;;)        /* once for waker, once for runner */
        coop_yield();
}

static void waker_fn(void *opaque)
{
    (void)opaque;
    coop_wake(wakee);
    coop_yield(); /* check-gdb: waker's line */
    sink++;
}

static void runner_fn(void *opaque)
{
    (void)opaque;
    coop_wake(wakee);
    gdb_target_stop();
    sink++;
}

static void outer_fn(void *opaque)
{
    (void)opaque;
    coop_enter(runner); /* check-gdb: outer's line */
    sink++;
}

static void noop_fn(void *opaque)
{
    (void)opaque;
}

NOINLINE static void t2_block(void)
{
    char c;

    pthread_barrier_wait(&t2_started);
    if (read(t2_pipe[0], &c, 1) < 0)
        perror("read");
    sink++;
}

static void t2_fn(void *opaque)
{
    (void)opaque;
    t2_block();
    sink++;
}

static void *t2_thread(void *arg)
{
    (void)arg;
    coop_enter(make("t2-blocked", t2_fn));
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t2;
    coop_t *outer;

    abort_at_stop = argc > 1 && strcmp(argv[1], "abort") == 0;

    coop_enter(make_sized("finished", noop_fn, 128 * 1024));
    gdb_target_sleeper = make("sleeper", sleeper_fn);
    coop_enter(gdb_target_sleeper);
    coop_enter(make("deep", deep_fn));
    gdb_target_queue_waiter = make("queue-waiter", queue_waiter_fn);
    coop_enter(gdb_target_queue_waiter);
    if (!coop_mutex_trylock(&mutex))
        return EXIT_FAILURE;
    coop_enter(make("mutex-waiter", mutex_waiter_fn));
    wakee = make("wakee", wakee_fn);
    coop_enter(wakee);
    gdb_target_waker = make("waker", waker_fn);
    coop_enter(gdb_target_waker); /* wakee runs and yields again */
    gdb_target_fresh = make("fresh", noop_fn);
    runner = gdb_target_runner = make("runner", runner_fn);
    outer = gdb_target_outer = make("outer", outer_fn);

    if (pipe(t2_pipe) != 0 || pthread_barrier_init(&t2_started, NULL, 2) != 0
        || pthread_create(&t2, NULL, t2_thread, NULL) != 0) {
        perror("setup");
        return EXIT_FAILURE;
    }
    pthread_barrier_wait(&t2_started);

    coop_enter(outer); /* outer enters runner, which stops */

    /* Let everyone finish. */
    if (write(t2_pipe[1], "x", 1) != 1 || pthread_join(t2, NULL) != 0)
        return EXIT_FAILURE;
    coop_queue_next(&queue);
    coop_mutex_unlock(&mutex);
    printf("gdb-target: done\n");
    return EXIT_SUCCESS;
}
