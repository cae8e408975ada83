/* SPDX-License-Identifier: MIT */
/*
 * Stacks at scale: many live guarded coroutines under the default mapping
 * limit, overflow caught in the guard region and reported, other faults
 * left to the program, a frame larger than the guard caught by probing it
 * page by page, deep stacks giving memory back in the pool.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <coop.h>

#include "suites.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* The same question the library asks: do guard markers really fault here?
 * (Linux 6.13+; emulators accept the call and ignore it.) */
static int guard_markers_work(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int fds[2], works = 0;
    char *p;

    if (getenv("COOP_NO_GUARD_INSTALL"))
        return 0;
    p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    if (madvise(p, page, MADV_GUARD_INSTALL) == 0 && pipe(fds) == 0) {
        works = write(fds[1], p, 1) == -1 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(p, 2 * page);
    return works;
}

static long max_map_count(void)
{
    long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* Address space of the process, in KiB (statm's first field). */
static void park(void *opaque)
{
    (*(int *)opaque)++;
    coop_yield();
    (*(int *)opaque)--;
}

#define MANY 100000

/* 100,000 live coroutines, each with its own guard region: with guard
 * markers they fit in a handful of mappings; with mprotect guards the
 * mapping limit stops creation cleanly (ENOMEM) and the rest still runs. */
START_TEST(test_hundred_thousand_live_guarded_coroutines)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "100,000 live stacks: too slow, and beyond "
                "ThreadSanitizer's 8128 fibers\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    coop_t **cos = calloc(MANY, sizeof(*cos));
    size_t maps_before = count_mappings();
    long vm_before = vm_kib();
    int live = 0, made = 0, markers = guard_markers_work();

    ck_assert_ptr_nonnull(cos);
    for (; made < MANY; made++) {
        cos[made] = coop_create(park, &live);
        if (!cos[made])
            break;
        coop_enter(cos[made]);
    }
    if (markers) {
        ck_assert_int_eq(made, MANY);
        ck_assert_int_eq(live, MANY);
        ck_assert_uint_lt(count_mappings() - maps_before, 100);
    } else {
        /* Two mappings a stack: the limit is the default's, not ours. */
        ck_assert_int_eq(errno, ENOMEM);
        ck_assert_int_ge(made, max_map_count() / 2 - 1000);
        ck_assert_int_eq(live, made);
    }
    for (int i = 0; i < made; i++)
        coop_enter(cos[i]);
    ck_assert_int_eq(live, 0);
    /* Drained, every chunk's address space goes back to the system (over
     * 30 GiB of it was reserved; allow the C library some growth). */
    coop_pool_drain();
    if (markers)
        ck_assert_int_lt(vm_kib() - vm_before, 64 << 10);
    ck_assert_uint_le(count_mappings(), maps_before + 4);
    free(cos);
}
END_TEST

/* --------------------------------------------------------------- overflow */

/* Touch every page on the way down, as real recursion does; it only ends
 * in the guard region. */
static volatile int forever = 1;

static __attribute__((noinline)) void recurse(int depth)
{
    volatile char frame[1024];

    frame[0] = (char)depth;
    if (forever)
        recurse(depth + 1);
    frame[1] = frame[0]; /* not a tail call */
}

static void overflowing(void *opaque)
{
    (void)opaque;
    recurse(0);
}

/* A frame far larger than a page: its first store lands deep in the guard
 * region (the guard is at least 64 KiB, so it cannot be jumped over). */
static __attribute__((noinline)) void big_frame(void)
{
    volatile char frame[48 << 10];

    frame[0] = 1;
    frame[sizeof(frame) - 1] = frame[0];
}

static void big_frames(void *opaque)
{
    (void)opaque;
    for (;;) {
        big_frame();
        recurse(0); /* goes down page by page from here */
    }
}

static void overflow_named(void *opaque)
{
    coop_attr_t attr;
    coop_t *co;

    coop_attr_init(&attr);
    attr.stack_size = 64 << 10;
    attr.name = "deep-diver";
    ck_assert_int_eq(coop_catch_overflow(), 0);
    co = coop_create_attr(&attr, overflowing, opaque);
    ck_assert_ptr_nonnull(co);
    coop_enter(co);
}

static void overflow_unnamed(void *opaque)
{
    coop_t *co;

    ck_assert_int_eq(coop_catch_overflow(), 0);
    co = coop_create(big_frames, opaque);
    ck_assert_ptr_nonnull(co);
    coop_enter(co);
}

START_TEST(test_overflow_reported_with_name_then_abort)
{
    if (coop_test_skip_under("valgrind", __func__,
                             "under valgrind, abort() from a SIGSEGV handler "
                             "on the alternate stack dies of SIGSEGV"))
        return;
    no_core_dumps();
    expect_abort(overflow_named, NULL, "stack overflow in coroutine deep-diver");
    expect_abort(overflow_unnamed, NULL, "stack overflow in coroutine 0x");
}
END_TEST

/* Without coop_catch_overflow(): plain SIGSEGV, nothing silent. */
START_TEST(test_overflow_without_handler_is_sigsegv)
{
    if (getenv("COOP_TEST_SANITIZER") &&
        strcmp(getenv("COOP_TEST_SANITIZER"), "valgrind") != 0) {
        /* the test case expects SIGSEGV: die of it, as skipped */
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "the runtime's own SIGSEGV handler reports the "
                "overflow and aborts\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    coop_attr_t attr;
    coop_t *neighbour, *co;
    int live = 0;

    no_core_dumps();
    coop_attr_init(&attr);
    attr.stack_size = 64 << 10;
    neighbour = coop_create_attr(&attr, park, &live);
    co = coop_create_attr(&attr, overflowing, NULL);
    ck_assert_ptr_nonnull(neighbour);
    ck_assert_ptr_nonnull(co);
    coop_enter(neighbour);
    coop_enter(co);
}
END_TEST

/* The program's own SIGSEGV handler still sees faults that are not stack
 * overflows, even from inside a coroutine. */
static sigjmp_buf segv_escape;
static volatile sig_atomic_t segv_seen;

static void program_segv_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    segv_seen = si->si_addr == (void *)16;
    siglongjmp(segv_escape, 1);
}

static int *volatile bad_pointer = (int *)16;

static void fault_at_16(void *opaque)
{
    (void)opaque;
    if (sigsetjmp(segv_escape, 1) == 0)
        *bad_pointer = 1;
}

START_TEST(test_other_faults_reach_program_handler)
{
    if (coop_test_skip_under("valgrind", __func__,
                             "memcheck reports the test's deliberate invalid "
                             "write"))
        return;
    struct sigaction sa;
    coop_t *co;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = program_segv_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
    ck_assert_int_eq(coop_catch_overflow(), 0);
    ck_assert_int_eq(coop_catch_overflow(), 0); /* idempotent */

    co = coop_create(fault_at_16, NULL);
    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_int_eq(segv_seen, 1);

    segv_seen = 0;
    fault_at_16(NULL); /* from the main context too */
    ck_assert_int_eq(segv_seen, 1);
}
END_TEST

/* A thread that only enters coroutines gets its alternate signal stack too,
 * and one the program installed itself is kept. */
START_TEST(test_catch_overflow_keeps_program_altstack)
{
    static char mine[64 << 10];
    stack_t ss = { .ss_sp = mine, .ss_size = sizeof(mine), .ss_flags = 0 };
    stack_t cur;
    int live = 0;
    coop_t *co;

    ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
    ck_assert_int_eq(coop_catch_overflow(), 0);
    co = coop_create(park, &live);
    coop_enter(co);
    coop_enter(co);
    ck_assert_int_eq(sigaltstack(NULL, &cur), 0);
    ck_assert_ptr_eq(cur.ss_sp, mine);
    ck_assert_uint_eq(cur.ss_size, sizeof(mine));
}
END_TEST

/* ------------------------------------------------------------ stack clash */

/*
 * A frame larger than the guard.  Of two coroutines created one after the
 * other, the higher one dives: its alloca() reaches through its stack and
 * guard into a sentinel the lower one keeps in its suspended frame.  With
 * guard markers the lower one (the first created) lies right below the
 * guard; with mprotect guards it lies wherever mmap put it, and the size
 * is computed to reach it all the same.
 *
 * The contrast, in a comment only: code built without
 * -fstack-clash-protection (gcc's and clang's default on Debian 12) moves
 * the stack pointer by the whole size at once and stores wherever it stores
 * first, often buf[0], the lowest byte:
 *
 *     char *buf = alloca(n);   // the stack pointer jumps the guard
 *     buf[0] = 1;              // no fault: the neighbour's sentinel changes
 *
 * With the option the compiler touches each page on the way down, so the
 * first touch below the diver's stack is in its guard and faults.  gcc can
 * build one function so (the optimize attribute); with other compilers the
 * loop in dive() does what those probes do.  The SIGSEGV handler checks,
 * before the process dies, that the fault is in the diver's guard and that
 * the sentinel is intact.
 */
#if defined(__GNUC__) && !defined(__clang__) && \
    (defined(__x86_64__) || defined(__aarch64__) || defined(__riscv))
#define CLASH_COMPILER_PROBES 1
#define CLASH_PROBED __attribute__((noinline, optimize("stack-clash-protection")))
#else
#define CLASH_COMPILER_PROBES 0
#define CLASH_PROBED __attribute__((noinline))
#endif

#define SENTINEL_BYTES (16 << 10)
#define SENTINEL_BYTE 0xa5

static volatile unsigned char *volatile clash_sentinel;
static volatile uintptr_t clash_neighbour_top, clash_diver_stack;
static volatile size_t clash_bytes;
static volatile int clash_phase; /* 1: in alloca(), 2: in the loop */

/* Check shows only "expected signal 11" for a test case that ends
 * otherwise: say what went wrong on stderr and abort. */
static void clash_report(const char *what)
{
    static const char head[] = "test_alloca_over_guard_faults_in_guard: ";

    (void)!write(STDERR_FILENO, head, sizeof(head) - 1);
    (void)!write(STDERR_FILENO, what, strlen(what));
    abort();
}

/* On the alternate stack: the diver's stack pointer is far below its stack.
 * SA_RESETHAND restored SIG_DFL, so returning runs the faulting store again
 * and the process dies of SIGSEGV, as the test case expects. */
static void clash_segv_handler(int sig, siginfo_t *si, void *uc)
{
    uintptr_t addr = (uintptr_t)si->si_addr;

    (void)sig;
    (void)uc;
    for (size_t i = 0; i < SENTINEL_BYTES; i++)
        if (clash_sentinel[i] != SENTINEL_BYTE)
            clash_report("the neighbour's sentinel was overwritten\n");
    /* Between the neighbour's handle (its stack's top) and the diver's
     * stack, only the diver's guard is unreadable. */
    if (addr <= clash_neighbour_top || addr >= clash_diver_stack)
        clash_report("the fault is not in the diver's guard\n");
    if (CLASH_COMPILER_PROBES && clash_phase != 1)
        clash_report("alloca()'s own probes did not fault first\n");
}

static CLASH_PROBED void dive(size_t page)
{
    volatile char *buf;

    clash_phase = 1;
    buf = alloca(clash_bytes);
    clash_phase = 2;
    for (size_t off = clash_bytes; off >= page; off -= page)
        buf[off - page] = 0; /* top down, a page at a time */
    buf[0] = 1;
}

/* opaque: 1 for the diver, 0 for the neighbour (set before first entry). */
static void clash_body(void *opaque)
{
    volatile unsigned char sentinel[SENTINEL_BYTES];

    if (*(int *)opaque) {
        /* from about here down to the middle of the sentinel */
        clash_bytes = (uintptr_t)sentinel -
                      ((uintptr_t)clash_sentinel + SENTINEL_BYTES / 2);
        dive((size_t)sysconf(_SC_PAGESIZE));
        clash_report("alloca() over the guard did not fault\n");
    }
    for (size_t i = 0; i < sizeof(sentinel); i++)
        sentinel[i] = SENTINEL_BYTE;
    clash_sentinel = sentinel;
    coop_yield(); /* suspended, its frame in place */
}

START_TEST(test_alloca_over_guard_faults_in_guard)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        /* the test case expects SIGSEGV: die of it, as skipped */
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "ASan pads alloca() with redzones and valgrind tracks the "
                "stack pointer itself: a frame jumping the guard does not "
                "land as it does natively\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    static char altstack[64 << 10];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
    struct sigaction sa;
    coop_attr_t attr;
    coop_t *a, *b, *neighbour, *diver;
    int role_a = 0, role_b = 0;

    no_core_dumps();
    coop_attr_init(&attr);
    attr.stack_size = 64 << 10;
    a = coop_create_attr(&attr, clash_body, &role_a);
    b = coop_create_attr(&attr, clash_body, &role_b);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    diver = (uintptr_t)a > (uintptr_t)b ? a : b;
    neighbour = diver == a ? b : a;
    *(diver == a ? &role_a : &role_b) = 1;
    clash_neighbour_top = (uintptr_t)neighbour;
    clash_diver_stack = (uintptr_t)diver - coop_stack_size(diver);

    ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = clash_segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);

    coop_enter(neighbour);
    ck_assert(clash_sentinel != NULL);
    coop_enter(diver); /* dies of SIGSEGV in its guard */
}
END_TEST

/* ------------------------------------------------------------ deep stacks */

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Recursion that really uses about 1 KiB of stack per level: the frame's
 * address escapes, so no compiler can shrink or reuse it. */
static void (*volatile escape)(volatile char *) = NULL;

static __attribute__((noinline)) int dig(int kib)
{
    volatile char frame[1024];
    int below = 0;

    for (size_t i = 0; i < sizeof(frame); i += 64)
        frame[i] = (char)kib;
    if (escape)
        escape(frame);
    if (kib > 1)
        below = dig(kib - 1);
    return below + frame[(kib % 16) * 64]; /* a byte written above */
}

static void go_deep(void *opaque)
{
    int *depth = opaque;

    *depth = dig(*depth) ? *depth : 0;
}

START_TEST(test_idle_deep_stack_gives_memory_back)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "RSS counts the runtime's shadow memory, which "
                "madvise does not give back\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    int depth_kib = 600, live = 0;
    coop_attr_t small;
    coop_t *co;
    long before, deep, after;

    coop_pool_drain();
    before = rss_kib();
    co = coop_create(go_deep, &depth_kib);
    coop_enter(co); /* ran 600 KiB deep, finished: pooled with its pages */
    ck_assert_int_eq(depth_kib, 600);
    deep = rss_kib();
    ck_assert_int_ge(deep - before, 400);

    /* Keep it idle in the pool while others (of another stack size, so
     * they never reuse it) come and go: trim scans pass over it. */
    coop_attr_init(&small);
    small.stack_size = 32 << 10;
    for (int i = 0; i < 4 * 64; i++) {
        coop_t *other = coop_create_attr(&small, park, &live);
        ck_assert_ptr_nonnull(other);
        coop_enter(other);
        coop_enter(other);
    }
    after = rss_kib();
    ck_assert_msg(deep - after >= 400,
                  "RSS %ld KiB before, %ld KiB deep, %ld KiB after the scans",
                  before, deep, after);
    coop_pool_drain();
}
END_TEST

Suite *stack_suite(void)
{
    Suite *s = suite_create("stack");
    TCase *tc;

    tc = coop_test_tcase(s, "scale");
    tcase_add_test(tc, test_hundred_thousand_live_guarded_coroutines);
    tcase_add_test(tc, test_idle_deep_stack_gives_memory_back);

    tc = coop_test_tcase(s, "overflow");
    tcase_add_test(tc, test_overflow_reported_with_name_then_abort);
    tcase_add_test_raise_signal(tc, test_overflow_without_handler_is_sigsegv,
                                SIGSEGV);
    tcase_add_test(tc, test_other_faults_reach_program_handler);
    tcase_add_test(tc, test_catch_overflow_keeps_program_altstack);
    tcase_add_test_raise_signal(tc, test_alloca_over_guard_faults_in_guard,
                                SIGSEGV);
    return s;
}
