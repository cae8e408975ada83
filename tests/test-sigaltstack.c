/* SPDX-License-Identifier: MIT */
/*
 * The program's signal state is its own: creating coroutines (which the
 * sigaltstack backend does by taking a signal on the new stack) keeps
 * every handler and disposition, the alternate stack, the signal mask and
 * pending signals as they were, loses no signal sent meanwhile from any
 * thread, and reusing a pooled coroutine involves no signal at all.  The
 * properties hold on every backend; on the others they are simply true.
 *
 * Besides SIGUSR1/SIGUSR2 the tests cover the first real-time signals, so
 * whichever number a backend borrows, a program that uses it is tested.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <check.h>
#include <coop.h>

Suite *sigaltstack_suite(void);

#define TIMEOUT 60  /* qemu-user runs 10-50 times slower than native */
#define RT_SPAN 8   /* real-time signals covered: SIGRTMIN .. SIGRTMIN+7 */
#define MAX_SIGS (2 + RT_SPAN)

/* The signals a program of ours uses: SIGUSR1, SIGUSR2, the first RT ones. */
static int sigs[MAX_SIGS];
static int nsigs;

static void init_sigs(void)
{
    nsigs = 0;
    sigs[nsigs++] = SIGUSR1;
    sigs[nsigs++] = SIGUSR2;
    for (int s = SIGRTMIN; s < SIGRTMIN + RT_SPAN && s <= SIGRTMAX; s++)
        sigs[nsigs++] = s;
}

static bool is_rt(int sig)
{
    return sig >= SIGRTMIN && sig <= SIGRTMAX;
}

/* -------------------------------------------------------------- helpers */

static int ran;

static void count_run(void *opaque)
{
    (void)opaque;
    ran++;
}

/* n coroutines made afresh (pool drained, all alive at once), then run. */
static void create_and_run(int n)
{
    coop_t **cos = calloc((size_t)n, sizeof(*cos));

    ck_assert_ptr_nonnull(cos);
    coop_pool_drain();
    ran = 0;
    for (int i = 0; i < n; i++) {
        cos[i] = coop_create(count_run, NULL);
        ck_assert_msg(cos[i] != NULL, "coop_create #%d: %s", i,
                      strerror(errno));
    }
    for (int i = 0; i < n; i++)
        coop_enter(cos[i]);
    ck_assert_int_eq(ran, n);
    free(cos);
}

/* A coroutine that creates and runs some itself: creation from a coroutine
 * stack must keep the thread's state too. */
static void nested_creator(void *opaque)
{
    int n = *(int *)opaque;
    coop_t **cos = calloc((size_t)n, sizeof(*cos));

    ck_assert_ptr_nonnull(cos);
    for (int i = 0; i < n; i++) {
        cos[i] = coop_create(count_run, NULL);
        ck_assert_ptr_nonnull(cos[i]);
    }
    for (int i = 0; i < n; i++)
        coop_enter(cos[i]);
    free(cos);
}

static void create_and_run_nested(int n)
{
    int ran_before = ran;
    coop_t *co = coop_create(nested_creator, &n);

    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_int_eq(ran, ran_before + n);
}

static void assert_same_set(const sigset_t *a, const sigset_t *b,
                            const char *what)
{
    for (int s = 1; s < NSIG; s++)
        ck_assert_msg(sigismember(a, s) == sigismember(b, s),
                      "%s: signal %d %s", what, s,
                      sigismember(a, s) ? "no longer there" : "added");
}

static void assert_same_action(int sig, const struct sigaction *a,
                               const struct sigaction *b)
{
    ck_assert_msg(a->sa_handler == b->sa_handler,
                  "signal %d: handler changed", sig);
    ck_assert_msg(a->sa_flags == b->sa_flags,
                  "signal %d: flags %#x became %#x", sig,
                  (unsigned)a->sa_flags, (unsigned)b->sa_flags);
    assert_same_set(&a->sa_mask, &b->sa_mask, "handler mask");
}

/* Thread-directed, with a value: pthread_sigqueue without needing glibc. */
static int queue_to_thread(pid_t tid, int sig, int value)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = value;
    return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si);
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

    nanosleep(&ts, NULL);
}

/* What the program's handlers saw, per signal. */
static int got[NSIG];
static long got_sum[NSIG];

#define SEEN_MAX 64
static int seen[NSIG][SEEN_MAX]; /* values in arrival order */

static void counting_handler(int sig, siginfo_t *si, void *uc)
{
    int n = __atomic_fetch_add(&got[sig], 1, __ATOMIC_SEQ_CST);

    (void)uc;
    if (si->si_code == SI_QUEUE) {
        __atomic_fetch_add(&got_sum[sig], si->si_value.sival_int,
                           __ATOMIC_SEQ_CST);
        if (n < SEEN_MAX)
            seen[sig][n] = si->si_value.sival_int;
    }
}

static void reset_counts(void)
{
    memset(got, 0, sizeof(got));
    memset(got_sum, 0, sizeof(got_sum));
    memset(seen, 0, sizeof(seen));
}

static int count_of(int sig)
{
    return __atomic_load_n(&got[sig], __ATOMIC_SEQ_CST);
}

static void install_counting(int sig, int flags, bool block_all)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = counting_handler;
    sa.sa_flags = SA_SIGINFO | flags;
    if (block_all) {
        sigfillset(&sa.sa_mask);
    } else {
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGINT); /* something to compare */
        sigaddset(&sa.sa_mask, sig == SIGUSR1 ? SIGUSR2 : SIGUSR1);
    }
    ck_assert_int_eq(sigaction(sig, &sa, NULL), 0);
}

/* ------------------------------------------------------------- handlers */

START_TEST(test_handlers_kept)
{
    struct sigaction before[MAX_SIGS], after;

    init_sigs();
    for (int i = 0; i < nsigs; i++) {
        install_counting(sigs[i], SA_RESTART | (i % 2 ? SA_ONSTACK : 0),
                         false);
        ck_assert_int_eq(sigaction(sigs[i], NULL, &before[i]), 0);
    }

    create_and_run(100);
    create_and_run_nested(20);

    reset_counts();
    for (int i = 0; i < nsigs; i++) {
        ck_assert_int_eq(sigaction(sigs[i], NULL, &after), 0);
        assert_same_action(sigs[i], &before[i], &after);
        ck_assert_int_eq(raise(sigs[i]), 0);
        ck_assert_int_eq(pthread_kill(pthread_self(), sigs[i]), 0);
        /* delivered before the calls return: this thread is the target */
        ck_assert_msg(count_of(sigs[i]) == 2,
                      "signal %d: the program's handler ran %d times, not 2",
                      sigs[i], count_of(sigs[i]));
    }
}
END_TEST

START_TEST(test_ignored_and_default_dispositions_kept)
{
    struct sigaction sa, before[MAX_SIGS], after;

    init_sigs();
    for (int i = 0; i < nsigs; i++) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = i % 2 ? SIG_IGN : SIG_DFL;
        ck_assert_int_eq(sigaction(sigs[i], &sa, NULL), 0);
        ck_assert_int_eq(sigaction(sigs[i], NULL, &before[i]), 0);
    }

    create_and_run(100);

    for (int i = 0; i < nsigs; i++) {
        ck_assert_int_eq(sigaction(sigs[i], NULL, &after), 0);
        assert_same_action(sigs[i], &before[i], &after);
        if (before[i].sa_handler == SIG_IGN)
            ck_assert_int_eq(raise(sigs[i]), 0); /* still ignored */
    }
}
END_TEST

/* -------------------------------------------------------- alternate stack */

#define ALT_SIZE (256 * 1024)

static char *alt_lo;
static volatile uintptr_t handler_sp;

static void where_handler(int sig)
{
    char here;

    (void)sig;
    handler_sp = (uintptr_t)&here;
}

static bool on_alt_stack(uintptr_t sp)
{
    return sp >= (uintptr_t)alt_lo && sp < (uintptr_t)alt_lo + ALT_SIZE;
}

static void raise_usr1(void *opaque)
{
    (void)opaque;
    raise(SIGUSR1);
}

static void install_alt_stack(stack_t *got_back)
{
    stack_t ss;
    struct sigaction sa;

    alt_lo = malloc(ALT_SIZE);
    ck_assert_ptr_nonnull(alt_lo);
    ss.ss_sp = alt_lo;
    ss.ss_size = ALT_SIZE;
    ss.ss_flags = 0;
    ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
    ck_assert_int_eq(sigaltstack(NULL, got_back), 0);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = where_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
}

static void assert_same_alt_stack(const stack_t *a, const stack_t *b)
{
    ck_assert_int_eq(a->ss_flags, b->ss_flags);
    /* Disabled: Linux reports NULL/0, valgrind the last stack's sp/size
     * (and a parking area of the backend after a creation). */
    if (a->ss_flags & SS_DISABLE)
        return;
    ck_assert_ptr_eq(a->ss_sp, b->ss_sp);
    ck_assert_uint_eq(a->ss_size, b->ss_size);
}

START_TEST(test_alt_stack_kept)
{
    stack_t before, after;
    coop_t *co;

    install_alt_stack(&before);
    ck_assert_int_eq(before.ss_flags, 0);

    create_and_run(100);
    create_and_run_nested(20);

    ck_assert_int_eq(sigaltstack(NULL, &after), 0);
    assert_same_alt_stack(&before, &after);

    /* the program's SA_ONSTACK handler still runs there, from a coroutine
     * as from the main stack */
    handler_sp = 0;
    raise(SIGUSR1);
    ck_assert_msg(on_alt_stack(handler_sp), "handler ran off the alt stack");
    handler_sp = 0;
    co = coop_create(raise_usr1, NULL);
    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_msg(on_alt_stack(handler_sp),
                  "handler ran off the alt stack in a coroutine");
}
END_TEST

START_TEST(test_no_alt_stack_stays_disabled)
{
    stack_t off = { .ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0 };
    stack_t before, after;

    ck_assert_int_eq(sigaltstack(&off, NULL), 0);
    ck_assert_int_eq(sigaltstack(NULL, &before), 0);

    create_and_run(100);

    ck_assert_int_eq(sigaltstack(NULL, &after), 0);
    ck_assert(after.ss_flags & SS_DISABLE);
    assert_same_alt_stack(&before, &after);
}
END_TEST

/* Creating from a handler running on the program's alternate stack is not
 * supported, but must either work or fail cleanly, leaving all as it was. */
static coop_t *from_handler;
static int from_handler_errno;

static void creating_handler(int sig)
{
    (void)sig;
    errno = 0;
    from_handler = coop_create(count_run, NULL);
    from_handler_errno = errno;
}

START_TEST(test_create_on_program_alt_stack_fails_cleanly_or_works)
{
    if (getenv("COOP_TEST_SANITIZER") &&
        (strcmp(getenv("COOP_TEST_SANITIZER"), "thread") == 0 ||
         strcmp(getenv("COOP_TEST_SANITIZER"), "valgrind") == 0)) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "TSan reports the handler's malloc as signal-unsafe; "
                "valgrind loses track of the stack pointer\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    stack_t before, after;
    struct sigaction sa;

    install_alt_stack(&before);
    coop_pool_drain();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = creating_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR2, &sa, NULL), 0);

    raise(SIGUSR2);
    if (from_handler) {
        ran = 0;
        coop_enter(from_handler);
        ck_assert_int_eq(ran, 1);
    } else {
        ck_assert_int_ne(from_handler_errno, 0);
    }

    ck_assert_int_eq(sigaltstack(NULL, &after), 0);
    assert_same_alt_stack(&before, &after);
    handler_sp = 0;
    raise(SIGUSR1);
    ck_assert(on_alt_stack(handler_sp));
    create_and_run(10); /* the library is still usable */
}
END_TEST

/* ------------------------------------------------------------------- mask */

static void check_mask_kept(const sigset_t *mask)
{
    sigset_t before, after;

    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, mask, NULL), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &before), 0);
    create_and_run(100);
    create_and_run_nested(20);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &after), 0);
    assert_same_set(&before, &after, "thread signal mask");
}

START_TEST(test_mask_kept)
{
    sigset_t m;

    init_sigs();
    sigemptyset(&m);
    check_mask_kept(&m);

    sigemptyset(&m);
    sigaddset(&m, SIGTERM);
    sigaddset(&m, SIGCHLD);
    for (int i = 0; i < nsigs; i += 2)
        sigaddset(&m, sigs[i]);
    check_mask_kept(&m);

    sigfillset(&m);
    check_mask_kept(&m);

    sigemptyset(&m);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &m, NULL), 0);
}
END_TEST

/* Signals blocked and pending when coroutines are made stay pending, and
 * are then delivered once each, with their own siginfo, in their order:
 * those sent to the thread first, then those sent to the process. */
START_TEST(test_pending_signals_kept)
{
    if (coop_test_skip_under("thread", __func__,
                             "TSan delivers real-time signals deferred and "
                             "coalesced"))
        return;
    enum { TO_THREAD = 3, TO_PROCESS = 2 };
    sigset_t block, pending, none;

    init_sigs();
    reset_counts();
    sigemptyset(&block);
    for (int i = 0; i < nsigs; i++) {
        install_counting(sigs[i], SA_RESTART, true);
        sigaddset(&block, sigs[i]);
    }
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);

    for (int i = 0; i < nsigs; i++) {
        for (int k = 0; k < TO_THREAD; k++)
            ck_assert_int_eq(queue_to_thread(my_tid(), sigs[i], 100 * i + k),
                             0);
        for (int k = 0; k < TO_PROCESS; k++) {
            union sigval v = { .sival_int = 100 * i + 10 + k };
            ck_assert_int_eq(sigqueue(getpid(), sigs[i], v), 0);
        }
    }

    create_and_run(100);
    create_and_run_nested(20);

    ck_assert_int_eq(sigpending(&pending), 0);
    for (int i = 0; i < nsigs; i++)
        ck_assert_msg(sigismember(&pending, sigs[i]),
                      "signal %d no longer pending", sigs[i]);
    for (int i = 0; i < nsigs; i++)
        ck_assert_msg(count_of(sigs[i]) == 0,
                      "signal %d delivered while blocked", sigs[i]);

    sigemptyset(&none);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &none, NULL), 0);

    for (int i = 0; i < nsigs; i++) {
        int sig = sigs[i];

        if (!is_rt(sig)) { /* standard signals coalesce */
            ck_assert_int_ge(count_of(sig), 1);
            continue;
        }
        ck_assert_msg(count_of(sig) == TO_THREAD + TO_PROCESS,
                      "signal %d: %d delivered, %d sent", sig, count_of(sig),
                      TO_THREAD + TO_PROCESS);
        for (int k = 0; k < TO_THREAD; k++)
            ck_assert_int_eq(seen[sig][k], 100 * i + k);
        for (int k = 0; k < TO_PROCESS; k++)
            ck_assert_int_eq(seen[sig][TO_THREAD + k], 100 * i + 10 + k);
    }
}
END_TEST

/* ------------------------------------------------------------ concurrency */

#define WORKERS 4
#define PER_WORKER 2500
#define BATCH 50

struct conc {
    pthread_t thread[WORKERS];
    pid_t tid[WORKERS];
    int ready;          /* workers that published their tid */
    int done;           /* workers that finished creating   */
    int release;        /* workers may exit now             */
    int failures;       /* coop_create calls that failed    */
    int first_errno;
    long runs;          /* coroutine bodies completed       */
    int sent[NSIG];
    long sent_sum[NSIG];
};

static struct conc conc;

static void yield_once(void *opaque)
{
    (void)opaque;
    coop_yield();
    __atomic_fetch_add(&conc.runs, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    coop_t *cos[BATCH];

    __atomic_store_n(&conc.tid[me], my_tid(), __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&conc.ready, 1, __ATOMIC_SEQ_CST);
    for (int done = 0; done < PER_WORKER; done += BATCH) {
        int n = 0;

        for (int j = 0; j < BATCH; j++) {
            coop_t *co = coop_create(yield_once, NULL);
            if (co == NULL) {
                if (__atomic_fetch_add(&conc.failures, 1, __ATOMIC_SEQ_CST) == 0)
                    conc.first_errno = errno;
                continue;
            }
            cos[n++] = co;
        }
        for (int j = 0; j < n; j++)
            coop_enter(cos[j]); /* to its yield */
        for (int j = 0; j < n; j++)
            coop_enter(cos[j]); /* to its end: freed, the pool is off */
    }
    __atomic_fetch_add(&conc.done, 1, __ATOMIC_SEQ_CST);
    /* stay alive (and signalable) until the sender has stopped */
    while (!__atomic_load_n(&conc.release, __ATOMIC_SEQ_CST))
        sleep_us(1000);
    return NULL;
}

/* Random signals, to the process or to a worker, plain or queued with a
 * value, until every worker is done. */
static void send_randomly(void)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

    while (__atomic_load_n(&conc.done, __ATOMIC_SEQ_CST) < WORKERS) {
        int sig = sigs[1 + rand_r(&seed) % (unsigned)(nsigs - 1)]; /* not USR1 */
        int value = (int)(rand_r(&seed) % 1000);
        int how = (int)(rand_r(&seed) % 4);
        pid_t tid = conc.tid[rand_r(&seed) % WORKERS];
        int rc;

        if (how == 0) {
            rc = kill(getpid(), sig);
            value = 0;
        } else if (how == 1) {
            union sigval v = { .sival_int = value };
            rc = sigqueue(getpid(), sig, v);
        } else if (how == 2) {
            rc = queue_to_thread(tid, sig, value);
        } else {
            rc = (int)syscall(SYS_tgkill, getpid(), tid, sig);
            value = 0;
        }
        if (rc == 0) {
            conc.sent[sig]++;
            conc.sent_sum[sig] += value;
        }
        sleep_us((long)(rand_r(&seed) % 200));
    }
}

START_TEST(test_concurrent_creation_loses_no_signal)
{
    if (coop_test_skip_under("thread", __func__,
                             "TSan delivers real-time signals deferred and "
                             "coalesced"))
        return;
    int total_sent = 0;

    init_sigs();
    reset_counts();
    memset(&conc, 0, sizeof(conc));
    for (int i = 1; i < nsigs; i++)
        install_counting(sigs[i], SA_RESTART, false);
    coop_pool_set_max(0); /* every create makes a new context */

    for (int i = 0; i < WORKERS; i++)
        ck_assert_int_eq(pthread_create(&conc.thread[i], NULL, worker,
                                        (void *)(intptr_t)i), 0);
    while (__atomic_load_n(&conc.ready, __ATOMIC_SEQ_CST) < WORKERS)
        sleep_us(100);
    send_randomly();

    /* Everything sent arrives: real-time signals queue, so exactly; with
     * SIGUSR2 several sends may coalesce into one delivery. */
    for (int wait_ms = 0; wait_ms < 20000; wait_ms++) {
        bool all = true;
        for (int i = 1; i < nsigs; i++)
            if (is_rt(sigs[i]) && count_of(sigs[i]) < conc.sent[sigs[i]])
                all = false;
        if (all)
            break;
        sleep_us(1000);
    }
    __atomic_store_n(&conc.release, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < WORKERS; i++)
        ck_assert_int_eq(pthread_join(conc.thread[i], NULL), 0);
    coop_pool_set_max(64);

    ck_assert_msg(conc.failures == 0, "%d coop_create calls failed (%s)",
                  conc.failures, strerror(conc.first_errno));
    ck_assert_int_eq(conc.runs, (long)WORKERS * PER_WORKER);
    for (int i = 1; i < nsigs; i++) {
        int sig = sigs[i];

        total_sent += conc.sent[sig];
        if (is_rt(sig)) {
            ck_assert_msg(count_of(sig) == conc.sent[sig],
                          "signal %d: sent %d, the program's handler saw %d",
                          sig, conc.sent[sig], count_of(sig));
            ck_assert_int_eq(got_sum[sig], conc.sent_sum[sig]);
        } else {
            ck_assert_int_le(count_of(sig), conc.sent[sig]);
            if (conc.sent[sig] > 0)
                ck_assert_int_ge(count_of(sig), 1);
        }
    }
    ck_assert_int_gt(total_sent, 0);
}
END_TEST

/* ------------------------------------------------------------------- pool */

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define AUDIT_ARCH_HERE AUDIT_ARCH_RISCV64
#endif

enum { CHILD_OK = 0, CHILD_SKIP = 77 };

/* In a child: make sigaltstack and every way of signalling a thread fail,
 * then cycle pooled coroutines.  A reused coroutine keeps its context, so
 * none of it is needed. */
static int pooled_child(void)
{
#ifdef AUDIT_ARCH_HERE
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sigaltstack, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_tgsigqueueinfo, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
    coop_attr_t attr, other;
    coop_t *co;

    coop_attr_init(&attr);
    attr.stack_size = 64 * 1024;
    coop_pool_set_max(64);
    coop_pool_drain();
    for (int i = 0; i < 4; i++) { /* made the slow way, then pooled */
        co = coop_create_attr(&attr, count_run, NULL);
        if (co == NULL)
            return 1;
        coop_enter(co);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return CHILD_SKIP; /* no seccomp here (qemu-user refuses it) */

    ran = 0;
    for (int i = 0; i < 1000; i++) {
        co = coop_create_attr(&attr, count_run, NULL);
        if (co == NULL)
            return 2;
        coop_enter(co);
    }
    if (ran != 1000)
        return 3;

    /* the filter bites: a coroutine made afresh needs what it forbids */
    coop_attr_init(&other);
    other.stack_size = 128 * 1024;
    if (strcmp(coop_backend(), "sigaltstack") == 0 &&
        coop_create_attr(&other, count_run, NULL) != NULL)
        return 4;
    return CHILD_OK;
#else
    return CHILD_SKIP;
#endif
}

START_TEST(test_pooled_reuse_takes_no_signal)
{
    if (coop_test_skip_under("address", __func__,
                             "ASan queries sigaltstack() before every "
                             "siglongjmp, which the test's seccomp filter "
                             "forbids"))
        return;
    int status;
    pid_t pid = fork();

    ck_assert_int_ne(pid, -1);
    if (pid == 0)
        _exit(pooled_child());
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "child died of signal %d",
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert_msg(WEXITSTATUS(status) == CHILD_OK ||
                  WEXITSTATUS(status) == CHILD_SKIP,
                  "pooled reuse child failed at step %d",
                  WEXITSTATUS(status));
}
END_TEST

/* ------------------------------------------------------------------ suite */

static TCase *add_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, TIMEOUT);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *sigaltstack_suite(void)
{
    Suite *s = suite_create("sigaltstack");
    TCase *tc;

    tc = add_tcase(s, "handlers");
    tcase_add_test(tc, test_handlers_kept);
    tcase_add_test(tc, test_ignored_and_default_dispositions_kept);

    tc = add_tcase(s, "alt-stack");
    tcase_add_test(tc, test_alt_stack_kept);
    tcase_add_test(tc, test_no_alt_stack_stays_disabled);
    tcase_add_test(tc, test_create_on_program_alt_stack_fails_cleanly_or_works);

    tc = add_tcase(s, "mask");
    tcase_add_test(tc, test_mask_kept);
    tcase_add_test(tc, test_pending_signals_kept);

    tc = add_tcase(s, "concurrency");
    tcase_add_test(tc, test_concurrent_creation_loses_no_signal);

    tc = add_tcase(s, "pool");
    tcase_add_test(tc, test_pooled_reuse_takes_no_signal);
    return s;
}
