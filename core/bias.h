/* SPDX-License-Identifier: MIT */
/*
 * Thread bias for mutexes (bias.c): a mutex used by one thread only is
 * taken and released by that thread with plain loads and stores; another
 * thread that wants it first takes the bias away, once, with a process-wide
 * memory barrier (membarrier(2)), after which everybody uses atomics.
 *
 * Each thread has a slot.  While it works on a mutex biased to it, it names
 * the mutex in slot->busy (set before it checks the bias, cleared with
 * release once its plain stores are done).  The revoker marks the mutex
 * REVOKING, makes every running thread execute a full barrier, then waits
 * until the slot no longer names the mutex: a biased operation either
 * started before the barrier (its busy store is visible, and it is waited
 * for) or after it (it sees REVOKING and takes the atomic path).  Slots
 * are never freed, only handed to later threads, so a revoker may read the
 * slot of a thread that has exited.
 */
#ifndef COOP_BIAS_H
#define COOP_BIAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coop__bias {
    const void *busy;          /* the biased mutex worked on now (atomic) */
    struct coop__bias *free_next;
    char pad[64 - 2 * sizeof(void *)]; /* a cache line of its own */
};

/* Values of a mutex's bias word besides a slot's address. */
#define COOP__BIAS_NONE     ((uintptr_t)0) /* not used yet              */
#define COOP__BIAS_SHARED   ((uintptr_t)1) /* atomics for everybody     */
#define COOP__BIAS_REVOKING ((uintptr_t)2) /* being taken away: wait    */

/* A slot for a new thread; NULL when biasing is off (no membarrier, a
 * sanitizer runtime, COOP_NO_LOCK_BIAS set) or memory ran out. */
struct coop__bias *coop__bias_slot_new(void);
void coop__bias_slot_free(struct coop__bias *slot);

/* Taken the bias from slot (word already REVOKING): returns once no
 * biased operation on lock is in flight and its stores are visible. */
void coop__bias_revoke(struct coop__bias *slot, const void *lock);

/* Make the lock whose bias word is *word usable from the thread of slot
 * me (NULL: never biased): claim it when nobody has, or take the bias away
 * from another thread.  True when it is now biased to me; false when
 * everybody uses atomics. */
bool coop__bias_settle(uintptr_t *word, struct coop__bias *me,
                       const void *lock);

/* *word biased to slot me (a hint until checked after coop__bias_enter). */
static inline bool coop__bias_is(const uintptr_t *word,
                                 const struct coop__bias *me)
{
    return me && __atomic_load_n(word, __ATOMIC_RELAXED) == (uintptr_t)me;
}

static inline void coop__bias_enter(struct coop__bias *slot, const void *lock)
{
    __atomic_store_n(&slot->busy, lock, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* before the bias check */
}

static inline void coop__bias_leave(struct coop__bias *slot)
{
    __atomic_store_n(&slot->busy, NULL, __ATOMIC_RELEASE);
}

#endif /* COOP_BIAS_H */
