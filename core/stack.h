/* SPDX-License-Identifier: MIT */
/*
 * Coroutine stacks, one allocator for every backend.  A stack is a slot of
 * private anonymous memory, reserved and not committed, laid out bottom-up as
 *
 *   [ guard region, >= 64 KiB, no access ][ stack ... | header ]
 *
 * The header (core's struct coop) sits at the very top, so a shallow
 * coroutine touches one page in all; the stack grows down from just below it.
 */
#ifndef COOP_STACK_H
#define COOP_STACK_H

#include <stdbool.h>
#include <stddef.h>

struct coop__chunk;

typedef struct coop__stack {
    void  *map;      /* the whole slot, guard included */
    size_t map_size;
    struct coop__chunk *chunk; /* the shared mapping it was carved from */
} coop__stack;

/* Turn a requested stack size into the usable size to give: 0 means the
 * default; raised to the backend minimum; rounded up to pages.  -1 with
 * errno EINVAL when no address space could hold it. */
int coop__stack_usable_size(size_t request, size_t *usable);

/* Map a stack of at least usable bytes with room for header_size bytes at
 * its top.  Returns the (64-byte aligned) header address, the stack being
 * [*stack_lo, header); NULL with errno ENOMEM on failure. */
void *coop__stack_map(size_t usable, size_t header_size, coop__stack *st,
                      void **stack_lo);

void coop__stack_unmap(const coop__stack *st);

/* Give back the pages of the stack [lo, top) that lie more than keep bytes
 * below top, if any of them is resident; the mapping stays, and the pages
 * come back zeroed when touched again. */
void coop__stack_trim(void *lo, void *top, size_t keep);

/* Is addr inside st's guard region? */
bool coop__stack_in_guard(const coop__stack *st, const void *addr);

/* "madvise" (guard markers in shared mappings) or "mprotect". */
const char *coop__stack_guard_method(void);

#endif /* COOP_STACK_H */
