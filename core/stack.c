/* SPDX-License-Identifier: MIT */
/*
 * Coroutine stacks: one allocator for every backend.
 *
 * Guards split mappings when made with mprotect(): two mappings a stack,
 * and Linux's default vm.max_map_count (65530) stops a process near 32,000
 * coroutines.  Where the kernel has MADV_GUARD_INSTALL (Linux 6.13+), guard
 * regions are markers inside a mapping instead, so stacks are carved out of
 * large shared mappings ("chunks") of equal slots.  Whether the markers
 * really fault is probed once (emulators accept the call and ignore it);
 * otherwise every stack gets its own mapping and an mprotect() guard.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coop-internal.h"
#include "stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 uapi; older headers lack it */
#endif

#define COOP__DEFAULT_STACK ((size_t)1 << 20)
#define COOP__GUARD_MIN     ((size_t)64 << 10)
/* Larger than any user address space we run on (x86-64 has 2^47 bytes). */
#define COOP__STACK_MAX     ((size_t)1 << 46)
/* Chunks grow with their size class, within these bounds. */
#define COOP__CHUNK_MIN_SLOTS 16u
#define COOP__CHUNK_MAX_SLOTS 65536u
#define COOP__CHUNK_MAX_BYTES ((size_t)1 << 36)

struct coop__chunk {
    struct coop__chunk *next;
    char     *base;
    size_t    slot_size;  /* guard + stack + header page(s) */
    uint32_t  n_slots;
    uint32_t  n_fresh;    /* slots handed out at least once (guard in place) */
    uint32_t  n_used;
    uint32_t  n_free;
    uint32_t *free_slots; /* indices given back, reused first */
};

static size_t coop__page_size;
static size_t coop__guard_size;
static size_t coop__default_request = COOP__DEFAULT_STACK;
static size_t coop__default_usable; /* what a request of 0 gets */
static bool coop__carving;
static pthread_once_t coop__stack_once = PTHREAD_ONCE_INIT;
static int coop__stack_ready;       /* setup done: skip pthread_once */

static pthread_mutex_t coop__chunks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct coop__chunk *coop__chunks;

/* COOP_STACK_SIZE: decimal bytes, optional K or M; anything else is ignored. */
static size_t coop__parse_stack_env(const char *s)
{
    size_t v = 0, unit = 1;

    if (!s || !isdigit((unsigned char)*s))
        return 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (SIZE_MAX - 9) / 10)
            return 0;
        v = v * 10 + (size_t)(*s - '0');
    }
    if (*s == 'K' || *s == 'k')
        unit = (size_t)1 << 10, s++;
    else if (*s == 'M' || *s == 'm')
        unit = (size_t)1 << 20, s++;
    if (*s != '\0' || v == 0 || v > COOP__STACK_MAX / unit)
        return 0;
    return v * unit;
}

/* Does MADV_GUARD_INSTALL exist here and make the kernel refuse access?
 * A write() from a guarded page must fail with EFAULT. */
static bool coop__probe_guard_install(void)
{
    size_t page = coop__page_size;
    int fds[2];
    bool works = false;
    char *p;

    if (getenv("COOP_NO_GUARD_INSTALL")) /* for tests of the fallback */
        return false;
    p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    if (madvise(p, page, MADV_GUARD_INSTALL) == 0 && pipe(fds) == 0) {
        works = write(fds[1], p, 1) == -1 && errno == EFAULT &&
                write(fds[1], p + page, 1) == 1;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(p, 2 * page);
    return works;
}

static size_t coop__round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* A request no larger than COOP__STACK_MAX, as the usable size given. */
static size_t coop__usable(size_t request)
{
    if (request < coop__backend_min_stack)
        request = coop__backend_min_stack;
    return coop__round_up(request, coop__page_size);
}

static void coop__stack_setup(void)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t env;

    coop__page_size = page > 0 ? (size_t)page : 4096;
    coop__guard_size = COOP__GUARD_MIN < coop__page_size ? coop__page_size
                                                         : COOP__GUARD_MIN;
    env = coop__parse_stack_env(getenv("COOP_STACK_SIZE"));
    if (env)
        coop__default_request = env;
    coop__carving = coop__probe_guard_install();
    coop__default_usable = coop__usable(coop__default_request);
    __atomic_store_n(&coop__stack_ready, 1, __ATOMIC_RELEASE);
}

/* Once per process; afterwards one load, not pthread_once's call. */
static inline void coop__stack_init(void)
{
    if (__builtin_expect(!__atomic_load_n(&coop__stack_ready, __ATOMIC_ACQUIRE), 0))
        pthread_once(&coop__stack_once, coop__stack_setup);
}

int coop__stack_usable_size(size_t request, size_t *usable)
{
    coop__stack_init();
    if (request == 0) {
        *usable = coop__default_usable;
        return 0;
    }
    if (request > COOP__STACK_MAX) {
        errno = EINVAL;
        return -1;
    }
    *usable = coop__usable(request);
    return 0;
}

const char *coop__stack_guard_method(void)
{
    coop__stack_init();
    return coop__carving ? "madvise" : "mprotect";
}

/* ------------------------------------------------------ one mapping each */

static void *coop__map_single(size_t size, coop__stack *st)
{
    char *map = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);

    if (map == MAP_FAILED)
        return NULL;
    if (mprotect(map, coop__guard_size, PROT_NONE) != 0) {
        munmap(map, size); /* the mapping count limit, most likely */
        return NULL;
    }
    st->map = map;
    st->map_size = size;
    st->chunk = NULL;
    return map;
}

/* ------------------------------------------------------- carved stacks */

/* A new chunk for slots of slot_size; smaller ones when address space is
 * short (RLIMIT_AS), down to a single slot.  Called with the lock held. */
static struct coop__chunk *coop__chunk_new(size_t slot_size)
{
    struct coop__chunk *c;
    size_t slots = 0, limit = COOP__CHUNK_MAX_BYTES / slot_size;
    char *base = MAP_FAILED;

    for (c = coop__chunks; c; c = c->next)
        if (c->slot_size == slot_size)
            slots += c->n_slots;        /* grow with the size class */
    if (slots < COOP__CHUNK_MIN_SLOTS)
        slots = COOP__CHUNK_MIN_SLOTS;
    if (slots > COOP__CHUNK_MAX_SLOTS)
        slots = COOP__CHUNK_MAX_SLOTS;
    if (slots > limit)
        slots = limit ? limit : 1;

    for (; slots >= 1; slots /= 2) {
        base = mmap(NULL, slots * slot_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                    -1, 0);
        if (base != MAP_FAILED)
            break;
    }
    if (base == MAP_FAILED)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c)
        c->free_slots = malloc(slots * sizeof(uint32_t));
    if (!c || !c->free_slots) {
        free(c);
        munmap(base, slots * slot_size);
        return NULL;
    }
    c->base = base;
    c->slot_size = slot_size;
    c->n_slots = (uint32_t)slots;
    c->next = coop__chunks;
    coop__chunks = c;
    return c;
}

static void *coop__map_carved(size_t slot_size, coop__stack *st)
{
    struct coop__chunk *c;
    uint32_t idx;
    char *slot = NULL;

    pthread_mutex_lock(&coop__chunks_lock);
    for (c = coop__chunks; c; c = c->next)
        if (c->slot_size == slot_size && (c->n_free || c->n_fresh < c->n_slots))
            break;
    if (!c)
        c = coop__chunk_new(slot_size);
    if (c) {
        if (c->n_free) {
            idx = c->free_slots[--c->n_free];   /* its guard is still there */
            slot = c->base + (size_t)idx * slot_size;
        } else {
            idx = c->n_fresh;
            slot = c->base + (size_t)idx * slot_size;
            if (madvise(slot, coop__guard_size, MADV_GUARD_INSTALL) == 0)
                c->n_fresh++;
            else
                slot = NULL;
        }
        if (slot)
            c->n_used++;
    }
    pthread_mutex_unlock(&coop__chunks_lock);
    if (!slot)
        return NULL;
    st->map = slot;
    st->map_size = slot_size;
    st->chunk = c;
    return slot;
}

static void coop__unmap_carved(const coop__stack *st)
{
    struct coop__chunk *c = st->chunk, **link;
    char *slot = st->map;

    /* Give the pages back; the guard markers stay for the next user. */
    madvise(slot + coop__guard_size, st->map_size - coop__guard_size,
            MADV_DONTNEED);
    pthread_mutex_lock(&coop__chunks_lock);
    c->free_slots[c->n_free++] = (uint32_t)((slot - c->base) / c->slot_size);
    if (--c->n_used == 0) {
        for (link = &coop__chunks; *link != c; link = &(*link)->next) {
        }
        *link = c->next;
        munmap(c->base, (size_t)c->n_slots * c->slot_size);
        free(c->free_slots);
        free(c);
    }
    pthread_mutex_unlock(&coop__chunks_lock);
}

/* ------------------------------------------------------------ interface */

/*
 * Every stack ends at a page boundary, so without this every coroutine's
 * header and top frames would sit at the same offset in their pages: the
 * same L1 cache sets (8 ways on most cores), which a round of a few dozen
 * coroutines then evicts from each other on every switch.  Successive
 * stacks move their header (and so their top) down by one of 16 steps of
 * two cache lines, within the room the header page has anyway.
 */
#define COOP__COLOURS     16
#define COOP__COLOUR_STEP 128

static size_t coop__colour(size_t room)
{
    static unsigned int next;
    size_t c = (__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % COOP__COLOURS) *
               COOP__COLOUR_STEP;

    return c <= room ? c : 0;
}

void *coop__stack_map(size_t usable, size_t header_size, coop__stack *st,
                      void **stack_lo)
{
    size_t top = coop__round_up(header_size, coop__page_size);
    size_t size = coop__guard_size + usable + top;
    char *map;

    map = coop__carving ? coop__map_carved(size, st)
                        : coop__map_single(size, st);
    if (!map) {
        errno = ENOMEM;
        return NULL;
    }
    *stack_lo = map + coop__guard_size;
    return (char *)((((uintptr_t)(map + size) - header_size) & ~(uintptr_t)63) -
                    coop__colour(top - header_size));
}

void coop__stack_unmap(const coop__stack *st)
{
    if (st->chunk)
        coop__unmap_carved(st);
    else
        munmap(st->map, st->map_size);
}

void coop__stack_trim(void *lo, void *top, size_t keep)
{
    size_t page = coop__page_size; /* set up: the stack was mapped */
    uintptr_t mask = ~(uintptr_t)(page - 1);
    char *from = (char *)(((uintptr_t)lo + page - 1) & mask);
    char *to;
    size_t len;
    unsigned char vec[64];

    if ((size_t)((char *)top - (char *)lo) <= keep)
        return;
    to = (char *)(((uintptr_t)top - keep) & mask);
    if (to <= from)
        return;
    len = (size_t)(to - from);
    /* Most stacks never ran deep: look before paying for madvise. */
    for (size_t off = 0; off < len; off += sizeof(vec) * page) {
        size_t chunk = len - off < sizeof(vec) * page ? len - off
                                                      : sizeof(vec) * page;
        if (mincore(from + off, chunk, vec) != 0)
            return;
        for (size_t i = 0; i < chunk / page; i++) {
            if (vec[i] & 1) {
                madvise(from, len, MADV_DONTNEED);
                return;
            }
        }
    }
}

bool coop__stack_in_guard(const coop__stack *st, const void *addr)
{
    const char *p = addr, *lo = st->map;

    return st->map && p >= lo && p < lo + coop__guard_size;
}
