/* SPDX-License-Identifier: MIT */
/*
 * sigaltstack backend: a context is made by taking a signal on an alternate
 * stack that is the coroutine's stack, capturing the handler's frame there
 * with sigsetjmp, and bootstrapping from it once the thread's signal state
 * is back as it was.  No makecontext, no assembly: it works on any libc
 * with sigaltstack (musl has no makecontext).  Creation costs a signal
 * round trip and about a dozen syscalls; it happens once per coroutine, as
 * pooled coroutines keep their context.  Every switch is the
 * sigsetjmp(env, 0)/siglongjmp pair of sjlj.c.
 *
 * The signal: SIGRTMIN + 2, a real-time signal, not QEMU's SIGUSR2.
 * Real-time signals queue instead of coalescing, so a program's own signal
 * of the same number sent while we create is never merged into ours and
 * lost, and its siginfo survives.  SIGRTMIN and SIGRTMIN + 1 are the ones
 * programs pick first for timers; the highest numbers are taken by
 * valgrind and missing under qemu-user.  (gdb stops on it by default:
 * "handle SIG36 nostop noprint" on glibc, SIG37 on musl.)  Whatever
 * number we took, the program may use it too, so:
 *
 * - Our handler is installed for a few microseconds, under a process-wide
 *   mutex (sigaction is process-wide: two creators must never see each
 *   other's handler).  The creating thread blocks every signal meanwhile,
 *   except ours while it waits for it, so nothing else is delivered on the
 *   new stack or to our handler there.
 * - Our request is queued to the creating thread with rt_tgsigqueueinfo
 *   carrying the creation's address; the handler recognises it by that.
 * - Any other instance of the signal that reaches our handler is put back
 *   with rt_tgsigqueueinfo and its own siginfo, to the thread it reached
 *   (a valid target for a process-directed signal too), once the program's
 *   disposition is back: in the creating thread at once (it is blocked
 *   there until the end of creation, and queues behind ours), in any other
 *   thread after waiting for the creator to restore the disposition (the
 *   creator never waits for anyone, so that wait is short).  The kernel
 *   then delivers it with the program's own handler, flags, mask and
 *   stack, or ignores it or applies the default action, exactly as
 *   without us.  Our handler copies SA_RESTART from the program's
 *   disposition so that a system call it interrupted in another thread
 *   restarts or fails with EINTR as it would have.
 * - The thread's signal mask and alternate stack, and the disposition,
 *   are saved and restored exactly.  A program that changes the same
 *   signal's disposition at the very moment another thread creates a
 *   coroutine races with us, as with any other thread: the last writer
 *   wins, and if it replaced our handler before our request arrived, the
 *   request strays into the program's handler and we ask again.
 * - fork() waits for a creation in progress (pthread_atfork), so a child
 *   never inherits our handler or a held lock.
 *
 * Failure modes (-1 with errno, which coop_create passes on):
 * - ENOMEM: the stack cannot hold the kernel's signal frame
 *   (AT_MINSIGSTKSZ / sysconf(_SC_MINSIGSTKSZ), large on AVX-512 and AMX
 *   machines) plus a little room to run; the kernel's own sigaltstack()
 *   check reports ENOMEM too.  Also when the queued-signal limit
 *   (RLIMIT_SIGPENDING, EAGAIN from the kernel) is exhausted.
 * - EBUSY: the thread is running on its own alternate signal stack (we are
 *   inside a signal handler that uses it), which the kernel does not let
 *   anyone replace.  Creating coroutines from signal handlers is not
 *   supported anyway; the alternate stack a program installed for its
 *   handlers is otherwise kept and restored untouched.
 *
 * The coroutine's stack starts below the signal frame of its creation
 * (typically 1-4 KiB; up to AT_MINSIGSTKSZ), which it loses.
 *
 * ThreadSanitizer cannot follow this backend: it interposes its own
 * handler on every sigaction (running ours from its runtime's frames, or
 * later, deferred), and models setjmp/longjmp with per-thread records;
 * jumping back into a handler frame it saw return is outside that model.
 * Use the ucontext or asm backend under TSan.
 */
#undef _FORTIFY_SOURCE /* see sjlj.c: siglongjmp crosses stacks here too */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/futex.h>

#include "switch.h"

/* Optional: tell memcheck about the frame we come back into. */
#if defined(HAVE_VALGRIND_MEMCHECK_H)
#define COOP__SAS_VALGRIND 1
#elif defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#define COOP__SAS_VALGRIND 1
#endif
#endif
#ifdef COOP__SAS_VALGRIND
#include <valgrind/memcheck.h>
#endif

const char coop__backend_name[] = "sigaltstack";
const size_t coop__backend_min_stack = 16 * 1024;

/* Room under the signal frame for the handler, the bootstrap, and a
 * coroutine that does anything at all. */
#define COOP__SAS_SLACK 4096

/* One creation, on the creator's stack for the length of coop__ctx_make(). */
struct coop__sas_start {
    coop__ctx   *ctx;
    coop_t      *co;
    volatile sig_atomic_t arrived; /* the handler ran for our request   */
    char        *frame;            /* about where the handler's frame is */
    sigjmp_buf   reenter;          /* the handler's frame, on the new stack */
    sigjmp_buf   back;             /* the creator, for the bootstrap */
    struct coop__boot boot;        /* for sanitizers, see switch.h */
};

static pthread_mutex_t coop__sas_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t coop__sas_once = PTHREAD_ONCE_INIT;
static int coop__sas_signo;

/* Written by the lock holder, read by the handler on any thread. */
static struct coop__sas_start *coop__sas_current; /* our request       */
static pid_t coop__sas_creator;                   /* its thread id      */
static uint32_t coop__sas_window;   /* odd while our handler is installed */
static uint32_t coop__sas_sleepers; /* handlers waiting for it to close   */
static int coop__sas_restart = SA_RESTART; /* last choice, saves a sigaction */

static size_t coop__sas_need; /* smallest usable stack_bytes, 0: not yet known */

#ifdef COOP__SAS_VALGRIND
/*
 * Valgrind (3.x, coregrind/m_signals.c) emulates sigaltstack(2), and
 * SS_DISABLE there sets only the flag: the last stack's ss_sp and ss_size
 * stay, on_sig_stack() keeps testing the stack pointer against them, and
 * push_signal_frame() keeps delivering SA_ONSTACK signals onto them.  After
 * we restore a disabled alternate stack, the coroutine stack we just made
 * would remain valgrind's idea of this thread's alternate stack: creating a
 * coroutine from that coroutine fails with EPERM (our EBUSY), and the next
 * SA_ONSTACK signal lands on a stack in use or unmapped.  So under valgrind
 * a disabled stack is restored by first pointing valgrind at a parking
 * area of this thread's own that nothing runs on, then disabling it; the
 * program still sees SS_DISABLE.  One per thread, never freed: a signal
 * may still be delivered there until the thread is gone.
 */
#define COOP__SAS_PARK_SIZE ((size_t)64 << 10)
static __thread void *coop__sas_park;

static void coop__sas_disable_alt_stack(void)
{
    stack_t ss;

    if (!coop__sas_park) {
        void *mem = mmap(NULL, COOP__SAS_PARK_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                         MAP_STACK, -1, 0);
        if (mem != MAP_FAILED)
            coop__sas_park = mem;
    }
    if (coop__sas_park) {
        ss.ss_sp = coop__sas_park;
        ss.ss_size = COOP__SAS_PARK_SIZE;
        ss.ss_flags = 0;
        sigaltstack(&ss, NULL);
    }
    memset(&ss, 0, sizeof(ss));
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
}
#endif

static long coop__sas_futex(uint32_t *word, int op, uint32_t val)
{
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static pid_t coop__sas_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Queue sig with info to thread tid of this process.  Queueing to our own
 * process may carry any si_code, so a signal put back keeps its siginfo. */
static int coop__sas_queue(pid_t tid, int sig, siginfo_t *info)
{
    return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, info);
}

/* Another instance of the signal reached our handler: send it again once
 * the program's disposition is back (see the top of the file). */
static void coop__sas_put_back(int sig, siginfo_t *info)
{
    pid_t tid = coop__sas_gettid();
    uint32_t w = __atomic_load_n(&coop__sas_window, __ATOMIC_SEQ_CST);

    if ((w & 1) && __atomic_load_n(&coop__sas_creator, __ATOMIC_SEQ_CST) != tid) {
        __atomic_add_fetch(&coop__sas_sleepers, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&coop__sas_window, __ATOMIC_SEQ_CST) == w)
            coop__sas_futex(&coop__sas_window, FUTEX_WAIT_PRIVATE, w);
        __atomic_sub_fetch(&coop__sas_sleepers, 1, __ATOMIC_SEQ_CST);
    }
    /* Fails only when the queue limit is reached, just after the kernel
     * took this very signal off it: nothing better to do then. */
    coop__sas_queue(tid, sig, info);
}

/*
 * A fresh frame on the new stack, the coroutine's outermost: its return
 * address is marked undefined so that unwinders (backtrace(), gdb, C++
 * exceptions) stop here instead of walking into the dead signal frame
 * above, whose saved context is the creator's long-gone ppoll.
 */
static __attribute__((noinline, noreturn)) void
coop__sas_bootstrap(struct coop__sas_start *start)
{
    coop_t *co = start->co;

#if defined(__GCC_HAVE_DWARF2_CFI_ASM) && defined(__x86_64__)
    __asm__ volatile(".cfi_undefined rip");
#elif defined(__GCC_HAVE_DWARF2_CFI_ASM) && defined(__aarch64__)
    __asm__ volatile(".cfi_undefined x30");
#elif defined(__GCC_HAVE_DWARF2_CFI_ASM) && defined(__riscv)
    __asm__ volatile(".cfi_undefined ra");
#endif
    if (coop__hooks_active())
        coop__hooks_boot_arrive(&start->boot);
    /* Capture this frame, then let the creator return; the first switch
     * into the context lands here and runs the coroutine. */
    if (sigsetjmp(start->ctx->env, 0) == 0) {
        if (coop__hooks_active())
            coop__hooks_boot_leave(co, &start->boot);
        siglongjmp(start->back, 1);
    }
    coop__coroutine_main(co);
}

static void coop__sas_handler(int sig, siginfo_t *info, void *uc)
{
    struct coop__sas_start *start =
        __atomic_load_n(&coop__sas_current, __ATOMIC_ACQUIRE);
    int saved_errno = errno;

    (void)uc;
    if (start && info->si_code == SI_QUEUE && info->si_pid == getpid() &&
        info->si_value.sival_ptr == start) {
        /* Return, do not siglongjmp out: sigreturn restores exactly what
         * the kernel changed for the handler (the FP environment, x86
         * PKRU, arm64 POR/SME state...), which nothing else would.  The
         * frame left behind stays intact: every signal is blocked in this
         * thread until we jump back into it, and nothing else runs on the
         * new stack.  Mask 0: the jump back must not touch the mask. */
        if (sigsetjmp(start->reenter, 0) == 0) {
            start->frame = (char *)&saved_errno;
            start->arrived = 1;
            errno = saved_errno;
            return;
        }
        /* The creator jumped back in, its signal state restored: this is
         * no longer a signal handler, and must never return. */
        coop__sas_bootstrap(start);
    }
    coop__sas_put_back(sig, info);
    errno = saved_errno;
}

/* Into the handler's frame once more, now an ordinary frame on the new
 * stack; the bootstrap captures the context and comes back.  A function of
 * its own, so that no local of coop__ctx_make() lives across sigsetjmp. */
static __attribute__((noinline)) void
coop__sas_reenter(struct coop__sas_start *start, char *stack_lo,
                  char *stack_top)
{
#ifdef COOP__SAS_VALGRIND
    /* Memcheck marked the returned-from handler frame dead; it is not.
     * From a little below it (where the bootstrap goes) to the top. */
    char *lo = start->frame - COOP__SAS_SLACK / 2;

    if (lo < stack_lo)
        lo = stack_lo;
    VALGRIND_MAKE_MEM_DEFINED(lo, (size_t)(stack_top - lo));
#else
    (void)stack_lo;
    (void)stack_top;
#endif
    if (sigsetjmp(start->back, 0) == 0) {
        if (coop__hooks_active())
            coop__hooks_boot_go(start->co, &start->boot);
        siglongjmp(start->reenter, 1);
    }
    if (coop__hooks_active())
        coop__hooks_boot_back(&start->boot);
}

static void coop__sas_fork_prepare(void)
{
    pthread_mutex_lock(&coop__sas_lock);
}

static void coop__sas_fork_parent(void)
{
    pthread_mutex_unlock(&coop__sas_lock);
}

static void coop__sas_fork_child(void)
{
    pthread_mutex_init(&coop__sas_lock, NULL);
}

static int coop__sas_init_error;

static void coop__sas_init(void)
{
    coop__sas_signo = SIGRTMIN + 2;
    coop__sas_init_error = pthread_atfork(coop__sas_fork_prepare,
                                          coop__sas_fork_parent,
                                          coop__sas_fork_child);
}

/* The kernel's signal frame size on this machine, plus room to run. */
static size_t coop__sas_min_bytes(void)
{
    size_t need = __atomic_load_n(&coop__sas_need, __ATOMIC_RELAXED);

    if (need == 0) {
        size_t frame = 2048; /* the historical MINSIGSTKSZ */
#ifdef AT_MINSIGSTKSZ
        unsigned long aux = getauxval(AT_MINSIGSTKSZ);
        if (aux > frame)
            frame = aux;
#endif
#ifdef _SC_MINSIGSTKSZ
        long sc = sysconf(_SC_MINSIGSTKSZ);
        if (sc > 0 && (size_t)sc > frame)
            frame = (size_t)sc;
#endif
        need = frame + COOP__SAS_SLACK;
        __atomic_store_n(&coop__sas_need, need, __ATOMIC_RELAXED);
    }
    return need;
}

/* SA_RESTART as the program's disposition would have it, so that a call
 * interrupted by a signal we put back behaves as without us.  Ignored and
 * default dispositions never interrupt anything: restart. */
static int coop__sas_restart_of(const struct sigaction *sa)
{
    if (sa->sa_handler == SIG_DFL || sa->sa_handler == SIG_IGN)
        return SA_RESTART;
    return sa->sa_flags & SA_RESTART;
}

/* Install our handler for sig; old gets the program's disposition. */
static int coop__sas_install(int sig, struct sigaction *old)
{
    struct sigaction sa;
    int err;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = coop__sas_handler;
    sigfillset(&sa.sa_mask); /* nothing nests on the new stack */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | coop__sas_restart;
    if (sigaction(sig, &sa, old) != 0)
        return -1;
    if (coop__sas_restart_of(old) == coop__sas_restart)
        return 0;
    coop__sas_restart = coop__sas_restart_of(old);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | coop__sas_restart;
    if (sigaction(sig, &sa, NULL) == 0)
        return 0;
    err = errno;
    sigaction(sig, old, NULL);
    errno = err;
    return -1;
}

static bool coop__sas_installed(int sig)
{
    struct sigaction cur;

    return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == coop__sas_handler;
}

/*
 * Queue our request to this thread and wait until the handler has taken
 * it.  Ours comes before any process-directed instance of the signal, and
 * after only those sent to this thread earlier, which the handler puts
 * back behind it.  Should the program replace our handler meanwhile (its
 * sigaction racing with ours), the request went to the program: its new
 * disposition becomes the one to restore, and we ask again rather than
 * wait forever.
 */
static int coop__sas_request(struct coop__sas_start *start, int sig,
                             pid_t tid, struct sigaction *old_sa)
{
    sigset_t wait_mask;
    siginfo_t info;

    memset(&info, 0, sizeof(info));
    info.si_signo = sig;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_ptr = start;
    if (coop__sas_queue(tid, sig, &info) != 0)
        return -1;
    sigfillset(&wait_mask);
    sigdelset(&wait_mask, sig);
    while (!start->arrived) {
        struct timespec patience = { 0, 200 * 1000 * 1000 };

        /* sigsuspend with a timeout: returns after any handler ran */
        if (ppoll(NULL, 0, &patience, &wait_mask) != 0 || start->arrived ||
            coop__sas_installed(sig))
            continue;
        if (coop__sas_install(sig, old_sa) != 0 ||
            coop__sas_queue(tid, sig, &info) != 0)
            return -1;
    }
    return 0;
}

int coop__ctx_make(coop__ctx *ctx, void *stack_lo, size_t stack_bytes,
                   coop_t *co)
{
    struct coop__sas_start start;
    struct sigaction old_sa;
    sigset_t all, old_mask;
    stack_t ss, old_ss;
    pid_t tid;
    int sig, cancel_state, err = 0;

    if (stack_bytes < coop__sas_min_bytes()) {
        errno = ENOMEM;
        return -1;
    }
    pthread_once(&coop__sas_once, coop__sas_init);
    if (coop__sas_init_error) {
        errno = coop__sas_init_error;
        return -1;
    }
    sig = coop__sas_signo;
    tid = coop__sas_gettid();
    start.ctx = ctx;
    start.co = co;
    start.arrived = 0;

    /* ppoll is a cancellation point; a thread cancelled in it would leave
     * our handler installed and the lock held. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    /* Blocked before the lock: no handler of this thread can run while it
     * holds it (and create a coroutine, deadlocking). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old_mask);
    pthread_mutex_lock(&coop__sas_lock);

    ss.ss_sp = stack_lo;
    ss.ss_size = stack_bytes;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, &old_ss) != 0) {
        /* EPERM: running on the current alternate stack (see the top) */
        err = errno == EPERM ? EBUSY : errno;
        goto unlock;
    }

    __atomic_store_n(&coop__sas_creator, tid, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&coop__sas_window, 1, __ATOMIC_SEQ_CST); /* odd */
    if (coop__sas_install(sig, &old_sa) != 0) {
        err = errno;
        goto close_window;
    }
    __atomic_store_n(&coop__sas_current, &start, __ATOMIC_RELEASE);
    if (coop__sas_request(&start, sig, tid, &old_sa) != 0)
        err = errno == EAGAIN ? ENOMEM : errno; /* RLIMIT_SIGPENDING */
    sigaction(sig, &old_sa, NULL);
    __atomic_store_n(&coop__sas_current, NULL, __ATOMIC_RELEASE);
close_window:
    __atomic_store_n(&coop__sas_creator, 0, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&coop__sas_window, 1, __ATOMIC_SEQ_CST); /* even */
    if (__atomic_load_n(&coop__sas_sleepers, __ATOMIC_SEQ_CST) != 0)
        coop__sas_futex(&coop__sas_window, FUTEX_WAKE_PRIVATE, INT_MAX);
#ifdef COOP__SAS_VALGRIND
    if ((old_ss.ss_flags & SS_DISABLE) && RUNNING_ON_VALGRIND)
        coop__sas_disable_alt_stack();
    else
#endif
        sigaltstack(&old_ss, NULL);
unlock:
    pthread_mutex_unlock(&coop__sas_lock);

    if (err == 0) {
        coop__sas_reenter(&start, stack_lo, (char *)stack_lo + stack_bytes);
        ctx->fpc_valid = false; /* inherit the first enterer's FP control */
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    pthread_setcancelstate(cancel_state, NULL);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}
