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

#define COOP_VERSION_MAJOR 0
#define COOP_VERSION_MINOR 1
#define COOP_VERSION_PATCH 0

#if defined(COOP_BUILDING_LIBRARY) && defined(__GNUC__)
#define COOP_API __attribute__((visibility("default")))
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
 *           could hold (Decision: more than 2^46 bytes).
 *
 * Stacks: stack_size 0 means the default, 1 MiB, unless the environment
 * variable COOP_STACK_SIZE (decimal bytes with an optional K or M suffix,
 * read once per process; an unusable value is ignored) says otherwise.
 * Smaller requests are raised to the backend's minimum (16 KiB at most);
 * sizes are rounded up to whole pages.  Stacks are reserved, not committed:
 * an idle coroutine costs the pages it touched.  Below every stack lies a
 * guard region of at least 64 KiB.
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

/* ------------------------------------------------------------------ Locks */

/*
 * Locks (mutex and rwlock holds) the current coroutine holds now; outside a
 * coroutine, those the thread's main context holds.  A coroutine that
 * finishes while this is not 0 is a misuse (abort).
 */
COOP_API size_t coop_locks_held(void);

/* ------------------------------------------------------- Pool and limits */

/*
 * Most idle (finished) coroutines each thread keeps for reuse.  The setting
 * is process-wide; lowering it trims a thread's pool at that thread's next
 * release.  Decision: the default is 64; 0 disables pooling.
 */
COOP_API void coop_pool_set_max(size_t n);

/* Idle coroutines the calling thread keeps now. */
COOP_API size_t coop_pool_size(void);

/* Free the calling thread's idle coroutines (stacks go back to the system). */
COOP_API void coop_pool_drain(void);

/* --------------------------------------------------------- Introspection */

/* The library's version, "MAJOR.MINOR.PATCH". */
COOP_API const char *coop_version(void);

/* "ucontext", "sigaltstack", "asm-x86_64" or "asm-aarch64". */
COOP_API const char *coop_backend(void);

#ifdef __cplusplus
}
#endif

#endif /* COOP_H */
