/* SPDX-License-Identifier: MIT */
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

#define COOP__DEFAULT_STACK ((size_t)1 << 20)
#define COOP__GUARD_MIN     ((size_t)64 << 10)
/* Larger than any user address space we run on (x86-64 has 2^47 bytes). */
#define COOP__STACK_MAX     ((size_t)1 << 46)

static size_t coop__page_size;
static size_t coop__guard_size;
static size_t coop__default_request = COOP__DEFAULT_STACK;
static pthread_once_t coop__stack_once = PTHREAD_ONCE_INIT;

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
}

static size_t coop__round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

int coop__stack_usable_size(size_t request, size_t *usable)
{
    pthread_once(&coop__stack_once, coop__stack_setup);
    if (request == 0)
        request = coop__default_request;
    if (request > COOP__STACK_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (request < coop__backend_min_stack)
        request = coop__backend_min_stack;
    *usable = coop__round_up(request, coop__page_size);
    return 0;
}

void *coop__stack_map(size_t usable, size_t header_size, coop__stack *st,
                      void **stack_lo)
{
    size_t top = coop__round_up(header_size, coop__page_size);
    size_t size = coop__guard_size + usable + top;
    char *map, *header;

    map = mmap(NULL, size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    if (mprotect(map, coop__guard_size, PROT_NONE) != 0) {
        munmap(map, size);
        errno = ENOMEM; /* the mapping count limit, most likely */
        return NULL;
    }
    st->map = map;
    st->map_size = size;
    header = (char *)(((uintptr_t)(map + size) - header_size) & ~(uintptr_t)63);
    *stack_lo = map + coop__guard_size;
    return header;
}

void coop__stack_unmap(const coop__stack *st)
{
    munmap(st->map, st->map_size);
}
