/* SPDX-License-Identifier: MIT */
/*
 * libcoop: cooperative coroutines for C on Linux.
 *
 * This header is the whole public API.  Its contract (what every backend
 * guarantees) is written next to each declaration; where the reference
 * contract leaves a choice open, the choice libcoop made is marked
 * "Decision:".
 *
 * Model: a coroutine runs on its own stack until it yields or returns.
 * coop_enter() runs a coroutine and, before returning, every coroutine that
 * it woke meanwhile (see coop_wake()).  Coroutines never move between
 * threads by themselves; the application may enter a suspended coroutine
 * from another thread.
 */
#ifndef COOP_H
#define COOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COOP_VERSION_MAJOR 0
#define COOP_VERSION_MINOR 1
#define COOP_VERSION_PATCH 0

/* Exported from the shared library.  noinline: a call of ours must read
 * the thread's state afresh even in a program linked statically with LTO,
 * since a coroutine may resume on another thread between two calls. */
#if defined(COOP_BUILDING_LIBRARY) && defined(__GNUC__)
#define COOP_API __attribute__((visibility("default"), noinline))
#else
#define COOP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- Types */

/* Opaque coroutine handle. */
typedef struct coop coop_t;

/* Entry point of a coroutine; returning from it finishes the coroutine. */
typedef void (*coop_fn)(void *opaque);

/*
 * Creation attributes.  Always start from coop_attr_init(): the library may
 * give meaning to the reserved space in later versions, and coop_attr_init()
 * is what keeps old programs working then.
 */
typedef struct coop_attr {
    size_t      stack_size;  /* usable stack bytes; 0 = the default         */
    const char *name;        /* optional label; the library keeps a copy    */
    void       *coop_reserved_[6]; /* internal, do not touch                */
} coop_attr_t;

/* ------------------------------------------- Creating, entering, yielding */

/* Fill *attr with the defaults: default stack size, no name. */
COOP_API void coop_attr_init(coop_attr_t *attr);

/*
 * Create a suspended coroutine that will run fn(opaque) when first entered.
 * fn does not run yet.
 *
 * Returns NULL and sets errno on failure, leaking nothing:
 *   ENOMEM  memory or address space ran out;
 *   EINVAL  fn is NULL, or the stack size is larger than any address space
 *           could hold (Decision: more than 2^46 bytes);
 *   EBUSY   (sigaltstack backend only) the thread is running on its own
 *           alternate signal stack, e.g. inside a signal handler.
 *
 * Stacks: stack_size 0 means the default, 1 MiB, unless the environment
 * variable COOP_STACK_SIZE (decimal bytes with an optional K or M suffix,
 * read once per process; an unusable value is ignored) says otherwise.
 * Smaller requests are raised to the backend's minimum (16 KiB at most);
 * sizes are rounded up to whole pages.  Stacks are reserved, not committed:
 * an idle coroutine costs the pages it touched.  Below every stack lies a
 * guard region of at least 64 KiB.  A single frame or alloca() larger than
 * that can move the stack pointer past the guard and write into the stack
 * below it, another coroutine's, without a fault: build code whose frames
 * may be that large with -fstack-clash-protection, which makes the compiler
 * touch each page of a growing frame in turn, so the guard is hit first.
 *
 * Names: up to 31 bytes of attr->name are copied.
 *
 * Decision: a finished coroutine is recycled only by a later coop_create*()
 * asking for the same usable stack size; coop_create() uses the default.
 */
COOP_API coop_t *coop_create(coop_fn fn, void *opaque);
COOP_API coop_t *coop_create_attr(const coop_attr_t *attr, coop_fn fn,
                                  void *opaque);

/*
 * Run co, from the thread's main context or from inside another coroutine,
 * until it yields or returns; then run the coroutines woken meanwhile (see
 * coop_wake()); then return.  When co's function returned, co is finished:
 * the handle is invalid once coop_enter() returns and its memory is reused.
 *
 * Misuse (prints one "coop:" line and aborts): entering a coroutine that is
 * running or up the chain of callers ("re-entered recursively"), one that
 * was woken and has not run yet, one that waits in a queue, mutex or rwlock,
 * or the main-context handle.
 */
COOP_API void coop_enter(coop_t *co);

/*
 * Switch back to whoever entered the current coroutine; the next
 * coop_enter() of it resumes here.  Outside a coroutine: misuse (abort).
 */
COOP_API void coop_yield(void);

/*
 * The running coroutine.  Outside any coroutine, a non-NULL handle for the
 * calling thread's main context (the same one every time on that thread);
 * for it coop_entered() is false, coop_name() NULL, coop_stack_size() 0,
 * and entering or waking it is a misuse.
 */
COOP_API coop_t *coop_self(void);

/* True only inside a coroutine entered with coop_enter() (or coop_wake()). */
COOP_API bool coop_in_coroutine(void);

/*
 * True while co runs, or is suspended inside its own coop_enter() of another
 * coroutine (it has a caller).  False once it yielded, and before it starts.
 */
COOP_API bool coop_entered(const coop_t *co);

/* The copied name, or NULL when the coroutine was created without one. */
COOP_API const char *coop_name(const coop_t *co);

/* Usable stack bytes actually given (after the minimum and page rounding). */
COOP_API size_t coop_stack_size(const coop_t *co);

/*
 * Addition to the contract: what a coroutine is doing now (QEMU keeps the
 * same facts in its Coroutine).  From co's own thread the answer is exact;
 * from another thread it is a snapshot that may be stale at once unless
 * the application orders the two threads.
 */
typedef enum coop_state {
    COOP_STATE_NEW,       /* created (or reused from the pool), not started */
    COOP_STATE_SUSPENDED, /* yielded: the next coop_enter() resumes it      */
    COOP_STATE_ENTERED,   /* running, or up the chain of callers
                             (coop_entered() is true)                       */
    COOP_STATE_WOKEN,     /* on a wake-up list, not yet run                 */
    COOP_STATE_SCHEDULED, /* scheduled into a loop (coop-loop.h), not yet
                             entered                                        */
    COOP_STATE_WAITING    /* in a queue, mutex or rwlock, or a loop's sleep
                             or descriptor wait                             */
} coop_state_t;

/*
 * co's state.  Decision: the main-context handle is always
 * COOP_STATE_ENTERED (its thread runs it, or it is up the chain of
 * callers); a finished coroutine's handle is invalid, and asking about one
 * still in a pool is a misuse (abort).
 */
COOP_API coop_state_t coop_get_state(const coop_t *co);

/* "new", "suspended", "entered", "woken", "scheduled", "waiting"; NULL for
 * a value that is no coop_state_t. */
COOP_API const char *coop_state_name(coop_state_t state);

/*
 * Addition to the contract (QEMU's qemu_coroutine_enter_if_inactive()):
 * enter co, as coop_enter() does, when it is new or suspended, and return
 * true; otherwise (entered, woken, scheduled, waiting, or the main-context
 * handle) do nothing and return false.  For code that may be asked to
 * resume a coroutine that is already running or about to run.
 */
COOP_API bool coop_enter_if_inactive(coop_t *co);

/* ---------------------------------------------------------------- Waking */

/*
 * Inside a coroutine C: append co to C's wake-up list.  When C next yields
 * or finishes, the coop_enter() that ran C enters the woken coroutines in
 * the order they were woken, each one's own woken ones right after it
 * (before the rest of the list), before that coop_enter() returns.
 * Outside any coroutine: enter co at once, as coop_enter() does.
 *
 * Misuse (abort): a coroutine waking itself; waking one that is already
 * woken and not yet run, one that is running or up the chain of callers
 * (Decision: reported at the wake, as "re-entered recursively"), one that
 * waits in a queue, mutex or rwlock, or the main-context handle.
 * Coroutines are woken within one thread.
 */
COOP_API void coop_wake(coop_t *co);

/* ------------------------------------------------------- Synchronisation */

/*
 * Queue, mutex and rwlock (QEMU's CoQueue, CoMutex and CoRwlock semantics).
 * The structures are public so they can be static or embedded; their fields
 * are internal, do not touch.  Initialise with the *_INITIALIZER macros or
 * the *_init() functions; nothing needs destroying.
 *
 * Waking follows coop_wake(): from inside a coroutine the woken one runs
 * when the waker next yields or finishes; from the main context it runs at
 * once.  A coroutine waiting in a primitive is woken only by that primitive
 * (entering or waking it is a misuse).  The blocking calls
 * (coop_queue_wait, coop_mutex_lock, coop_rwlock_rdlock/wrlock/upgrade) may
 * only be called inside a coroutine; the others also work from the main
 * context, which then counts as a holder.
 *
 * Addition to the contract: threads.  Mutexes and rwlocks may be shared by
 * coroutines (and main contexts) of different threads.  A waiter released
 * by its own thread is woken as coop_wake() does; one released by another
 * thread is woken in its home loop, as coop_wake_home() does (coop-loop.h):
 * its thread must have a loop that runs and stays (hold it, see
 * coop_loop_hold()), or the release aborts ("has no loop").  Waiters are
 * still served in arrival order and the lock is handed over, also between
 * threads.  A queue has no lock of its own: it is safe across threads when
 * every call on it is made holding one and the same mutex (the one passed
 * to coop_queue_wait()), as with a condition variable.
 *
 * Cost: a mutex that only one thread uses is biased to it and takes no
 * atomic instruction; the first other thread takes the bias away, once,
 * with membarrier(2), and from then on lock and unlock are one
 * compare-and-swap each when uncontended.  (The environment variable
 * COOP_NO_LOCK_BIAS turns biasing off.)  Rwlocks are biased the same
 * way; shared, each call takes one atomic read-modify-write.
 */
typedef struct coop_queue {
    coop_t *coop_head_;     /* internal, do not touch */
    coop_t *coop_tail_;     /* internal, do not touch */
} coop_queue_t;

typedef struct coop_mutex {
    uintptr_t coop_state_;  /* internal: holder and flags             */
    coop_t   *coop_last_;   /* internal: newest waiter (a ring)       */
    uintptr_t coop_bias_;   /* internal: the thread that may skip atomics */
} coop_mutex_t;

typedef struct coop_rwlock {
    uintptr_t coop_state_;  /* internal: holders and flags            */
    coop_t   *coop_last_;   /* internal: newest waiter (a ring)       */
    uintptr_t coop_bias_;   /* internal: the thread that may skip atomics */
} coop_rwlock_t;

#define COOP_QUEUE_INITIALIZER(name)  { NULL, NULL }
#define COOP_MUTEX_INITIALIZER(name)  { 0, NULL, 0 }
#define COOP_RWLOCK_INITIALIZER(name) { 0, NULL, 0 }

/* A FIFO of waiting coroutines. */
COOP_API void coop_queue_init(coop_queue_t *q);

/* Release m (if not NULL), sleep until coop_queue_next() or
 * coop_queue_restart_all() wakes us, then re-acquire m.  Coroutines only. */
COOP_API void coop_queue_wait(coop_queue_t *q, coop_mutex_t *m);

/* Wake the first waiter; false if there was none. */
COOP_API bool coop_queue_next(coop_queue_t *q);

/* Wake every coroutine waiting at the time of the call, in order; ones that
 * start waiting while this runs stay asleep. */
COOP_API void coop_queue_restart_all(coop_queue_t *q);

COOP_API bool coop_queue_empty(const coop_queue_t *q);

/*
 * Fair mutex: waiters get it in arrival order, handed over by unlock (the
 * unlocker cannot take it back before a waiter ran).  Not recursive: locking
 * it again while holding it is a misuse (abort), as is unlocking a mutex the
 * caller does not hold.  Decision: coop_mutex_trylock() on a mutex the
 * caller already holds returns false, like pthread_mutex_trylock's EBUSY.
 */
COOP_API void coop_mutex_init(coop_mutex_t *m);
COOP_API void coop_mutex_lock(coop_mutex_t *m);
COOP_API bool coop_mutex_trylock(coop_mutex_t *m);
COOP_API void coop_mutex_unlock(coop_mutex_t *m);

/*
 * Many readers or one writer.  A writer in line blocks new readers, so
 * writers do not starve.  upgrade (reader -> writer) is immediate when the
 * caller is the only reader and nobody waits; otherwise it gives up its
 * read hold and queues as a writer behind those already waiting.
 * downgrade (writer -> reader) never blocks and lets queued readers in.
 * Misuse detected (abort): unlocking an rwlock nobody holds, or from a
 * context that holds no lock; upgrading without a read hold; downgrading
 * without the write hold.
 */
COOP_API void coop_rwlock_init(coop_rwlock_t *l);
COOP_API void coop_rwlock_rdlock(coop_rwlock_t *l);
COOP_API void coop_rwlock_wrlock(coop_rwlock_t *l);
COOP_API void coop_rwlock_upgrade(coop_rwlock_t *l);
COOP_API void coop_rwlock_downgrade(coop_rwlock_t *l);
COOP_API void coop_rwlock_unlock(coop_rwlock_t *l);

/*
 * Locks (mutex holds and rwlock holds) the current coroutine holds now;
 * outside a coroutine, those the thread's main context holds.  A coroutine
 * that finishes while this is not 0 is a misuse (abort).
 */
COOP_API size_t coop_locks_held(void);

/* ------------------------------------------------------- Pool and limits */

/*
 * Most idle (finished) coroutines each thread keeps for reuse.  The setting
 * is process-wide; lowering it trims a thread's pool at that thread's next
 * release.  Decision: the default is 64; 0 disables pooling.  Beyond its
 * limit a thread hands finished coroutines, in batches of one stack size,
 * to a small process-wide reserve (at most 4 batches of up to 32) where
 * other threads pick them up, so that a thread that only creates and one
 * that only finishes coroutines do not map and unmap stacks all the time.
 * A coroutine that stays idle in a pool gives back the memory its stack
 * touched more than 64 KiB below the top.
 */
COOP_API void coop_pool_set_max(size_t n);

/* Idle coroutines the calling thread keeps now (not counting the reserve). */
COOP_API size_t coop_pool_size(void);

/* Free the calling thread's idle coroutines and the process-wide reserve;
 * their stacks go back to the system. */
COOP_API void coop_pool_drain(void);

/* ------------------------------------------------------- Stack overflow */

/*
 * Stack overflow (running into a guard region) never silently corrupts
 * another coroutine: the process gets SIGSEGV (a frame that jumps over the
 * guard does not run into it: see coop_create()).  coop_catch_overflow()
 * (opt-in, per process) installs a SIGSEGV handler that reports
 * "coop: stack overflow in coroutine <name, or %p of the handle>" and
 * aborts; faults elsewhere go to the handler installed before.  Each thread
 * gets the alternate signal stack the handler needs when it first creates or
 * enters a coroutine after the call (a thread that already has one keeps
 * it).  Returns 0, or -1 with errno.  Calling it again does nothing.
 */
COOP_API int coop_catch_overflow(void);

/* --------------------------------------------------------- Introspection */

/* The library's version, "MAJOR.MINOR.PATCH". */
COOP_API const char *coop_version(void);

/* "ucontext", "sigaltstack", "asm-x86_64", "asm-aarch64" or "asm-riscv64". */
COOP_API const char *coop_backend(void);

/* ------------------------------------ Thread-local storage that follows a
 *                                        coroutine */

/*
 * A suspended coroutine may be entered next from another thread, so any
 * switch (coop_yield(), coop_enter(), a lock, queue or loop call that may
 * wait) can move it.  Compilers assume a function runs on one thread: at
 * -O2 they keep the thread pointer, the address of a __thread variable,
 * and the results of errno's __errno_location() and of pthread_self()
 * (glibc declares both const) across the call, so code after the switch
 * reads and writes the old thread's copy.  On x86-64, &var and errno are
 * cached that way; on aarch64 plain reads of var are too.
 *
 *   COOP_TLS_DECLARE(type, var);        in a header: the accessors
 *   COOP_TLS_DEFINE(type, var);         in one file (which includes that
 *                                       header): the variable and the
 *                                       accessors, external linkage
 *   COOP_TLS_DEFINE_STATIC(type, var);  the same, accessors static
 *
 * give a zero-initialised thread-local variable of the type (a plain
 * __thread one, of internal linkage, named coop_tls_<var>) and
 *
 *   type get_<var>(void);               this thread's value
 *   void set_<var>(type v);             set this thread's value
 *   type *get_ptr_<var>(void);          this thread's copy
 *
 * (the names of QEMU's coroutine-tls.h, so code written for it ports as
 * is).  Use a typedef for array and function-pointer types; in C++ the
 * type must be one __thread accepts (trivially destructible, constant
 * initialisation).
 *
 * Call the accessors afresh after every switch: a pointer from get_ptr_
 * is the copy of the thread it was taken on, and must not be kept across
 * a switch.  errno and pthread_self() have no such accessors: read errno
 * right after the call that set it, before the next switch, and in a
 * function that can switch use errno (or pthread_self()) on one side of
 * the switch only, or in a helper that is not inlined.
 *
 * Decision: each accessor is an out-of-line function (noinline; noipa
 * where GCC has it) holding an empty volatile asm with a memory clobber,
 * and get_ptr_ passes the address through that asm; so neither inlining
 * nor link-time optimisation lets a caller reuse a thread-local address
 * computed before a switch, at the price of a call per access.
 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#define COOP_TLS_NOINLINE_ __attribute__((noinline, noipa))
#else
#define COOP_TLS_NOINLINE_ __attribute__((noinline))
#endif

#define COOP_TLS_DECLARE(type, var)                                          \
    COOP_TLS_NOINLINE_ type get_##var(void);                                 \
    COOP_TLS_NOINLINE_ void set_##var(type);                                 \
    COOP_TLS_NOINLINE_ type *get_ptr_##var(void)

#define COOP_TLS_DEFINE(type, var)                                           \
    COOP_TLS_DEFINE_WITH_(extern, type, var)

#define COOP_TLS_DEFINE_STATIC(type, var)                                    \
    COOP_TLS_DEFINE_WITH_(static __attribute__((unused)), type, var)

/* The last line takes the semicolon written after the macro (a stray one
 * at file scope is an error under -pedantic). */
#define COOP_TLS_DEFINE_WITH_(linkage, type, var)                            \
    static __thread type coop_tls_##var;                                     \
    linkage COOP_TLS_NOINLINE_ type get_##var(void)                          \
    {                                                                        \
        __asm__ __volatile__("" ::: "memory");                               \
        return coop_tls_##var;                                               \
    }                                                                        \
    linkage COOP_TLS_NOINLINE_ void set_##var(type coop_tls_value_)          \
    {                                                                        \
        __asm__ __volatile__("" ::: "memory");                               \
        coop_tls_##var = coop_tls_value_;                                    \
    }                                                                        \
    linkage COOP_TLS_NOINLINE_ type *get_ptr_##var(void)                     \
    {                                                                        \
        type *coop_tls_ptr_ = &coop_tls_##var;                               \
        __asm__ __volatile__("" : "+r"(coop_tls_ptr_) : : "memory");         \
        return coop_tls_ptr_;                                                \
    }                                                                        \
    struct coop_tls_end_##var

#ifdef __cplusplus
}
#endif

#endif /* COOP_H */
