/* SPDX-License-Identifier: MIT */
/* Thread bias for mutexes: slots and revocation (see bias.h). */
#include "config.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bias.h"
#include "coop-internal.h"
#include "diag.h"
#include "hooks.h"
#include "spin.h"

static pthread_once_t coop__bias_once = PTHREAD_ONCE_INIT;
static bool coop__bias_on;
static pthread_mutex_t coop__bias_lock = PTHREAD_MUTEX_INITIALIZER;
static struct coop__bias *coop__bias_free; /* under coop__bias_lock */

static long coop__membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

/* Biasing needs the expedited private barrier; a sanitizer runtime could
 * not follow it (ThreadSanitizer would see races the barrier excludes). */
static void coop__bias_setup(void)
{
    long cmds;

    if (getenv("COOP_NO_LOCK_BIAS") || coop__hooks_active())
        return;
    cmds = coop__membarrier(MEMBARRIER_CMD_QUERY);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return;
    if (coop__membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0)
        return;
    coop__bias_on = true;
}

struct coop__bias *coop__bias_slot_new(void)
{
    struct coop__bias *slot;

    pthread_once(&coop__bias_once, coop__bias_setup);
    if (!coop__bias_on)
        return NULL;
    pthread_mutex_lock(&coop__bias_lock);
    slot = coop__bias_free;
    if (slot)
        coop__bias_free = slot->free_next;
    pthread_mutex_unlock(&coop__bias_lock);
    if (!slot)
        slot = calloc(1, sizeof(*slot)); /* never freed: see bias.h */
    return slot;
}

void coop__bias_slot_free(struct coop__bias *slot)
{
    if (!slot)
        return;
    __atomic_store_n(&slot->busy, NULL, __ATOMIC_RELEASE);
    pthread_mutex_lock(&coop__bias_lock);
    slot->free_next = coop__bias_free;
    coop__bias_free = slot;
    pthread_mutex_unlock(&coop__bias_lock);
}

void coop__bias_revoke(struct coop__bias *slot, const void *lock)
{
    unsigned round = 0;

    if (coop__membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
        /* a forked child starts unregistered */
        if (errno != EPERM ||
            coop__membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0 ||
            coop__membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
            coop__die("membarrier() failed while moving a mutex to a second "
                      "thread");
    }
    while (__atomic_load_n(&slot->busy, __ATOMIC_ACQUIRE) == lock)
        coop__spin_wait(&round);
}

_Static_assert(_Alignof(struct coop__bias) > COOP__BIAS_REVOKING,
               "a slot's address is no special bias value");

bool coop__bias_settle(uintptr_t *word, struct coop__bias *me,
                       const void *lock)
{
    unsigned round = 0;

    for (;;) {
        uintptr_t b = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        uintptr_t want;

        if (b == COOP__BIAS_SHARED)
            return false;
        if (me && b == (uintptr_t)me)
            return true;
        if (b == COOP__BIAS_REVOKING) {
            coop__spin_wait(&round);
            continue;
        }
        want = b == COOP__BIAS_NONE && me ? (uintptr_t)me
             : b == COOP__BIAS_NONE        ? COOP__BIAS_SHARED
                                           : COOP__BIAS_REVOKING;
        if (!__atomic_compare_exchange_n(word, &b, want, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        if (want != COOP__BIAS_REVOKING)
            return want != COOP__BIAS_SHARED;
        coop__bias_revoke((struct coop__bias *)b, lock);
        __atomic_store_n(word, COOP__BIAS_SHARED, __ATOMIC_RELEASE);
        return false;
    }
}
