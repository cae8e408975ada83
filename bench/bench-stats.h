/* SPDX-License-Identifier: MIT */
/* The clock and the median that the C benchmark programs share. */
#ifndef COOP_BENCH_STATS_H
#define COOP_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define NS_PER_S 1000000000LL

static inline int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sorts v. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* COOP_BENCH_STATS_H */
