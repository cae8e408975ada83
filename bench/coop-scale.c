/* SPDX-License-Identifier: MIT */
/*
 * Many live coroutines: create N coroutines with the default stack (1 MiB
 * plus a guard region), enter each once so it is suspended in a yield, and
 * report how many could be made, resident memory and mappings per live
 * coroutine, and the cost of a fresh create + first enter.
 *
 *   bench/coop-scale [N]        (default 1000000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <coop.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static long mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;

    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long read_long(const char *path)
{
    long v = -1;
    FILE *f = fopen(path, "r");

    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static void park(void *opaque)
{
    (void)opaque;
    coop_yield();
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    coop_t **cos = calloc((size_t)n, sizeof(*cos));
    long made = 0, rss0, maps0;
    int err = 0;
    double t0, t1;

    if (!cos) {
        perror("calloc");
        return 1;
    }
    /* Warm up: the library's one-time setup is not part of the figure. */
    coop_t *warm = coop_create(park, NULL);
    coop_enter(warm);
    coop_enter(warm);

    rss0 = rss_bytes();
    maps0 = mappings();
    t0 = now_ns();
    for (; made < n; made++) {
        coop_t *co = coop_create(park, NULL);
        if (!co) {
            err = errno;
            break;
        }
        coop_enter(co); /* first enter: runs until its yield */
        cos[made] = co;
    }
    t1 = now_ns();

    long rss1 = rss_bytes(), maps1 = mappings();
    printf("libcoop %s, %s backend, vm.max_map_count %ld\n", coop_version(),
           coop_backend(), read_long("/proc/sys/vm/max_map_count"));
    printf("  live coroutines created:        %ld of %ld%s%s\n", made, n,
           err ? ", stopped by: " : "", err ? strerror(err) : "");
    if (made > 0) {
        printf("  RSS per live coroutine:         %.2f KiB (goal: <= 4.5 KiB)\n",
               (double)(rss1 - rss0) / (double)made / 1024.0);
        printf("  mappings added:                 %ld (goal: < 100)\n",
               maps1 - maps0);
        printf("  fresh create + first enter:     %.0f ns (goal: < 1000 ns)\n",
               (t1 - t0) / (double)made);
        printf("  stack size each:                %zu bytes\n",
               coop_stack_size(cos[0]));
    }
    t0 = now_ns();
    for (long i = 0; i < made; i++)
        coop_enter(cos[i]); /* finish them all */
    t1 = now_ns();
    if (made > 0)
        printf("  resume to finish:               %.0f ns each\n",
               (t1 - t0) / (double)made);
    coop_pool_drain();
    free(cos);
    return 0;
}
