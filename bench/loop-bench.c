/* SPDX-License-Identifier: MIT */
/*
 * What the loops (coop-loop.h) cost, each next to a baseline measured in
 * the same run:
 *
 *  1. Cross-thread ping-pong: coroutine A in the main thread schedules B
 *     into a second thread's loop and yields; B schedules A back.  Baseline:
 *     two pthreads bouncing a count through two blocking eventfds, which is
 *     the least a thread-to-thread wake-up can cost.
 *  2. Many sleepers: N coroutines (16 KiB stacks) sleep for random times
 *     (fixed seed) and must wake in deadline order and never early.
 *     Baseline: the same deadlines in a plain binary heap, dispatched with
 *     clock_nanosleep, no coroutines.
 *
 * Every figure is the median over the rounds.
 *
 *   bench/loop-bench [--quick] [--rounds N] [--round-trips N] [--sleepers N]
 *
 * Exits 1 when a check fails (a sleeper woken early or out of order, or a
 * call that failed), so `--quick` doubles as a smoke test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <coop-loop.h>

#include "bench-stats.h"

static int failures;

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Resident and peak resident bytes from /proc/self/status. */
static long status_kib(const char *field)
{
    char line[256];
    long v = -1;
    size_t len = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            v = atol(line + len + 1);
            break;
        }
    fclose(f);
    return v;
}

/* Resets the peak (VmHWM) to the current RSS, so each phase gets its own
 * peak; false on kernels without it (then the peak is the process's). */
static int reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok;

    if (!f)
        return 0;
    ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* splitmix64: same deadlines on every run and for both contenders. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ------------------------------------------ 1. cross-thread ping-pong */

struct pingpong {
    coop_loop_t *loop1, *loop2;     /* main thread's, second thread's */
    coop_t *a, *b;
    long warm, total;               /* untimed round trips, all round trips */
    double ns;                      /* per timed round trip */
    pthread_barrier_t ready;
};

static void pp_b(void *opaque)
{
    struct pingpong *p = opaque;

    /* Scheduling A while A may still be running (it has not yielded yet)
     * is allowed: the loop enters it once it has yielded. */
    for (long i = 0;;) {
        coop_schedule(p->loop1, p->a);
        if (++i == p->total)
            break;              /* finish rather than wait for nothing */
        coop_yield();
    }
}

static void pp_a(void *opaque)
{
    struct pingpong *p = opaque;
    int64_t t0 = 0;

    for (long i = 0; i < p->total; i++) {
        if (i == p->warm)
            t0 = now_ns();
        coop_schedule(p->loop2, p->b);
        coop_yield();           /* until B schedules us back */
    }
    p->ns = (double)(now_ns() - t0) / (double)(p->total - p->warm);
    /* Both loops were held so that neither run returned while its
     * coroutine was away in the other thread; done now. */
    coop_loop_release(p->loop2);
    coop_loop_release(p->loop1);
}

static void *pp_thread(void *opaque)
{
    struct pingpong *p = opaque;

    p->loop2 = coop_loop_self();
    if (p->loop2) {
        coop_loop_hold(p->loop2);
        p->b = coop_create(pp_b, p);
    }
    pthread_barrier_wait(&p->ready);
    if (p->loop2 && p->b)
        coop_loop_run();
    return NULL;
}

static double coop_pingpong(long n)
{
    struct pingpong p = { .warm = n / 10 + 1, .total = n + n / 10 + 1 };
    pthread_t t;

    pthread_barrier_init(&p.ready, NULL, 2);
    p.loop1 = coop_loop_self();
    if (!p.loop1 || pthread_create(&t, NULL, pp_thread, &p) != 0) {
        perror("loop-bench: ping-pong setup");
        exit(1);
    }
    pthread_barrier_wait(&p.ready);
    if (!p.loop2 || !p.b || !(p.a = coop_create(pp_a, &p))) {
        perror("loop-bench: ping-pong setup");
        exit(1);
    }
    coop_loop_hold(p.loop1);
    coop_schedule(p.loop1, p.a);
    coop_loop_run();
    pthread_join(t, NULL);
    pthread_barrier_destroy(&p.ready);
    return p.ns;
}

struct efd_pingpong {
    int to_b, to_a;                 /* eventfds */
    long total;
};

static void efd_bounce(int rfd, int wfd)
{
    uint64_t v = 1;

    if (read(rfd, &v, sizeof(v)) != sizeof(v) ||
        write(wfd, &v, sizeof(v)) != sizeof(v)) {
        perror("loop-bench: eventfd");
        exit(1);
    }
}

static void *efd_thread(void *opaque)
{
    struct efd_pingpong *p = opaque;

    for (long i = 0; i < p->total; i++)
        efd_bounce(p->to_b, p->to_a);
    return NULL;
}

static double efd_pingpong(long n)
{
    long warm = n / 10 + 1;
    struct efd_pingpong p = { .total = n + warm };
    uint64_t one = 1;
    int64_t t0 = 0;
    pthread_t t;

    p.to_b = eventfd(0, EFD_CLOEXEC);
    p.to_a = eventfd(0, EFD_CLOEXEC);
    if (p.to_b < 0 || p.to_a < 0 || pthread_create(&t, NULL, efd_thread, &p)) {
        perror("loop-bench: eventfd setup");
        exit(1);
    }
    for (long i = 0; i < p.total; i++) {
        if (i == warm)
            t0 = now_ns();
        if (write(p.to_b, &one, sizeof(one)) != sizeof(one) ||
            read(p.to_a, &one, sizeof(one)) != sizeof(one)) {
            perror("loop-bench: eventfd");
            exit(1);
        }
    }
    double ns = (double)(now_ns() - t0) / (double)n;
    pthread_join(t, NULL);
    close(p.to_b);
    close(p.to_a);
    return ns;
}

/* -------------------------------------------------- 2. many sleepers */

struct sleeper {
    int64_t ns;                 /* how long it sleeps */
    int64_t lo, hi;             /* the loop's deadline lies in [lo, hi] */
};

struct sleep_result {
    double setup_ns, loop_cpu_ns, beyond_ns, peak_mib, kib_each;
};

/* Checked as each sleeper wakes.  The loop reads the clock inside
 * coop_sleep_ns, so we only know each deadline within [lo, hi]: a wake is
 * out of order only when an earlier one's deadline was surely later. */
static int64_t max_lo_woken;
static long woken, out_of_order, early, sleep_errors;

static void check_wake(int64_t lo, int64_t hi, int64_t now)
{
    if (now < lo)               /* before even the earliest it could be */
        early++;
    if (max_lo_woken > hi)
        out_of_order++;
    if (lo > max_lo_woken)
        max_lo_woken = lo;
    woken++;
}

static void sleeper_fn(void *opaque)
{
    struct sleeper *s = opaque;

    s->lo = now_ns() + s->ns;
    if (coop_sleep_ns(s->ns) != 0) {
        sleep_errors++;
        return;
    }
    check_wake(s->lo, s->hi, now_ns());
}

static void sleep_reset(void)
{
    max_lo_woken = INT64_MIN;
    woken = out_of_order = early = sleep_errors = 0;
}

static void sleep_report_errors(const char *who, long n)
{
    if (woken != n || out_of_order || early || sleep_errors) {
        fprintf(stderr, "loop-bench: %s: %ld of %ld woken, %ld out of order, "
                "%ld early, %ld sleeps failed\n", who, woken, n, out_of_order,
                early, sleep_errors);
        failures++;
    }
}

static void coop_sleepers(long n, int64_t span, uint64_t seed,
                          struct sleep_result *r)
{
    struct sleeper *s = calloc((size_t)n, sizeof(*s));
    coop_attr_t attr;
    long made = 0;

    if (!s) {
        perror("loop-bench: calloc");
        exit(1);
    }
    for (long i = 0; i < n; i++)
        s[i].ns = (int64_t)(rng_next(&seed) % (uint64_t)span);
    coop_attr_init(&attr);
    attr.stack_size = 16384;
    sleep_reset();
    if (!coop_loop_self()) {        /* its setup is not the sleeps' cost */
        perror("loop-bench: coop_loop_self");
        exit(1);
    }

    int peak_ok = reset_peak_rss();
    long rss0 = status_kib("VmRSS");
    int64_t t0 = now_ns();
    for (; made < n; made++) {
        coop_t *co = coop_create_attr(&attr, sleeper_fn, &s[made]);
        if (!co) {
            fprintf(stderr, "loop-bench: coop_create_attr after %ld: %s\n",
                    made, strerror(errno));
            failures++;
            break;
        }
        coop_enter(co);             /* runs into coop_sleep_ns and back */
        s[made].hi = now_ns() + s[made].ns;
    }
    int64_t t1 = now_ns(), c1 = thread_cpu_ns();
    coop_loop_run();
    int64_t t2 = now_ns(), c2 = thread_cpu_ns();
    long peak = peak_ok ? status_kib("VmHWM") : -1;

    int64_t longest = 0;
    for (long i = 0; i < made; i++)
        if (s[i].ns > longest)
            longest = s[i].ns;
    sleep_report_errors("coroutine sleepers", made);
    r->setup_ns = (double)(t1 - t0) / (double)made;
    r->loop_cpu_ns = (double)(c2 - c1) / (double)made;
    r->beyond_ns = (double)(t2 - t0 - longest) / (double)made;
    r->peak_mib = peak / 1024.0;
    r->kib_each = (double)(peak - rss0) / (double)made;
    free(s);
    coop_pool_drain();
}

/*
 * The coroutines alone: the same creates and the same finishes, in the same
 * (deadline) order, but each just yields and main enters it again; no loop,
 * no timer.  What the coroutine sleepers cost beyond this is the loop's.
 */
static void yielder_fn(void *opaque)
{
    struct sleeper *s = opaque;

    (void)now_ns();                 /* the clock reads a sleeper makes */
    coop_yield();
    check_wake(s->lo, s->hi, now_ns());
}

static struct sleeper *by_deadline_base;

static int cmp_deadline(const void *a, const void *b)
{
    const struct sleeper *x = by_deadline_base + *(const long *)a;
    const struct sleeper *y = by_deadline_base + *(const long *)b;
    return (x->ns > y->ns) - (x->ns < y->ns);
}

static void coop_yielders(long n, int64_t span, uint64_t seed,
                          struct sleep_result *r)
{
    struct sleeper *s = calloc((size_t)n, sizeof(*s));
    coop_t **cos = calloc((size_t)n, sizeof(*cos));
    long *order = calloc((size_t)n, sizeof(*order));
    coop_attr_t attr;
    long made = 0;

    if (!s || !cos || !order) {
        perror("loop-bench: calloc");
        exit(1);
    }
    for (long i = 0; i < n; i++) {
        s[i].ns = (int64_t)(rng_next(&seed) % (uint64_t)span);
        s[i].lo = s[i].hi = s[i].ns;    /* the check then sees the order */
    }
    coop_attr_init(&attr);
    attr.stack_size = 16384;
    sleep_reset();

    int peak_ok = reset_peak_rss();
    long rss0 = status_kib("VmRSS");
    int64_t t0 = now_ns();
    for (; made < n; made++) {
        if (!(cos[made] = coop_create_attr(&attr, yielder_fn, &s[made]))) {
            fprintf(stderr, "loop-bench: coop_create_attr after %ld: %s\n",
                    made, strerror(errno));
            failures++;
            break;
        }
        coop_enter(cos[made]);
        (void)now_ns();             /* as the sleepers' setup reads it */
    }
    int64_t t1 = now_ns();
    for (long i = 0; i < made; i++)
        order[i] = i;
    by_deadline_base = s;
    qsort(order, (size_t)made, sizeof(*order), cmp_deadline);
    int64_t c2 = thread_cpu_ns();
    for (long i = 0; i < made; i++)
        coop_enter(cos[order[i]]);
    int64_t c3 = thread_cpu_ns();
    long peak = peak_ok ? status_kib("VmHWM") : -1;

    sleep_report_errors("coroutines without the loop", made);
    r->setup_ns = (double)(t1 - t0) / (double)made;
    r->loop_cpu_ns = (double)(c3 - c2) / (double)made;
    r->beyond_ns = -1;              /* nothing waits: not meaningful */
    r->peak_mib = peak / 1024.0;
    r->kib_each = (double)(peak - rss0) / (double)made;
    free(order);
    free(cos);
    free(s);
    coop_pool_drain();
}

/* The baseline: a hand-written timer heap, one entry per sleeper. */
struct timer {
    int64_t deadline;
};

static void heap_push(struct timer *h, long *len, struct timer t)
{
    long i = (*len)++;

    while (i > 0 && h[(i - 1) / 2].deadline > t.deadline) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = t;
}

static struct timer heap_pop(struct timer *h, long *len)
{
    struct timer top = h[0], last = h[--*len];
    long i = 0;

    for (;;) {
        long c = 2 * i + 1;
        if (c >= *len)
            break;
        if (c + 1 < *len && h[c + 1].deadline < h[c].deadline)
            c++;
        if (h[c].deadline >= last.deadline)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*len > 0)
        h[i] = last;
    return top;
}

static void heap_sleepers(long n, int64_t span, uint64_t seed,
                          struct sleep_result *r)
{
    struct timer *h;
    long len = 0;
    int64_t longest = 0;

    sleep_reset();
    int peak_ok = reset_peak_rss();
    long rss0 = status_kib("VmRSS");
    int64_t t0 = now_ns();
    if (!(h = malloc((size_t)n * sizeof(*h)))) {
        perror("loop-bench: malloc");
        exit(1);
    }
    for (long i = 0; i < n; i++) {
        int64_t ns = (int64_t)(rng_next(&seed) % (uint64_t)span);
        heap_push(h, &len, (struct timer){ now_ns() + ns });
        if (ns > longest)
            longest = ns;
    }
    int64_t t1 = now_ns(), c1 = thread_cpu_ns();
    while (len > 0) {
        int64_t now = now_ns();
        if (h[0].deadline > now) {
            struct timespec ts = { (time_t)(h[0].deadline / NS_PER_S),
                                   (long)(h[0].deadline % NS_PER_S) };
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            continue;
        }
        /* Everything due now, as a loop pass would; each "callback" does
         * what a woken sleeper does, clock read included. */
        while (len > 0 && h[0].deadline <= now) {
            struct timer t = heap_pop(h, &len);
            check_wake(t.deadline, t.deadline, now_ns());
        }
    }
    int64_t t2 = now_ns(), c2 = thread_cpu_ns();
    long peak = peak_ok ? status_kib("VmHWM") : -1;

    sleep_report_errors("heap baseline", n);
    r->setup_ns = (double)(t1 - t0) / (double)n;
    r->loop_cpu_ns = (double)(c2 - c1) / (double)n;
    r->beyond_ns = (double)(t2 - t0 - longest) / (double)n;
    r->peak_mib = peak / 1024.0;
    r->kib_each = (double)(peak - rss0) / (double)n;
    free(h);
}

/* --------------------------------------------------------------- main */

static double loop_own(struct sleep_result *a, struct sleep_result *b,
                       int rounds)
{
    double d[rounds];

    for (int i = 0; i < rounds; i++)
        d[i] = a[i].loop_cpu_ns - b[i].loop_cpu_ns;
    return median(d, rounds);
}

static void print_sleep(const char *label, struct sleep_result *rs, int rounds)
{
    double v[5][rounds];

    for (int i = 0; i < rounds; i++) {
        v[0][i] = rs[i].setup_ns;
        v[1][i] = rs[i].loop_cpu_ns;
        v[2][i] = rs[i].beyond_ns;
        v[3][i] = rs[i].peak_mib;
        v[4][i] = rs[i].kib_each;
    }
    printf("  %s\n", label);
    printf("    setup per sleeper:            %8.0f ns\n", median(v[0], rounds));
    printf("    loop CPU per sleep:           %8.0f ns\n", median(v[1], rounds));
    if (v[2][0] >= 0)
        printf("    wall beyond longest, per sleep: %6.0f ns\n",
               median(v[2], rounds));
    if (v[3][0] >= 0)
        printf("    peak RSS:                     %8.1f MiB (%.2f KiB per sleeper)\n",
               median(v[3], rounds), median(v[4], rounds));
}

int main(int argc, char **argv)
{
    int quick = 0, rounds = 0;
    long trips = 0, sleepers = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--round-trips") == 0 && i + 1 < argc)
            trips = atol(argv[++i]);
        else if (strcmp(argv[i], "--sleepers") == 0 && i + 1 < argc)
            sleepers = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--rounds N] "
                    "[--round-trips N] [--sleepers N]\n", argv[0]);
            return 2;
        }
    }
    if (rounds <= 0)
        rounds = quick ? 3 : 5;
    if (trips <= 0)
        trips = quick ? 5000 : 200000;
    if (sleepers <= 0)
        sleepers = quick ? 10000 : 1000000;
    int64_t span = quick ? NS_PER_S / 10 : NS_PER_S;
    const uint64_t seed = 1;

    time_t wall = time(NULL);
    char when[64];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&wall));
    printf("loop-bench: libcoop %s, %s backend, %ld CPUs online, %s\n",
           coop_version(), coop_backend(), sysconf(_SC_NPROCESSORS_ONLN), when);
    printf("medians of %d rounds%s\n\n", rounds, quick ? " (--quick)" : "");

    /* Alternating which goes first keeps drift (frequency, other load)
     * from favouring one side. */
    double co[rounds], ef[rounds];
    for (int i = 0; i < rounds; i++) {
        if (i % 2) {
            ef[i] = efd_pingpong(trips);
            co[i] = coop_pingpong(trips);
        } else {
            co[i] = coop_pingpong(trips);
            ef[i] = efd_pingpong(trips);
        }
    }
    double ratio[rounds];
    for (int i = 0; i < rounds; i++)
        ratio[i] = co[i] / ef[i];
    double mc = median(co, rounds), me = median(ef, rounds);
    double mr = median(ratio, rounds);     /* sorted now: [0] is the least */
    printf("cross-thread ping-pong, %ld round trips a round:\n", trips);
    printf("  coop_schedule, two threads' loops:  %8.0f ns per round trip"
           " (rounds %.0f-%.0f)\n", mc, co[0], co[rounds - 1]);
    printf("  eventfd, two blocking pthreads:     %8.0f ns per round trip"
           " (rounds %.0f-%.0f)\n", me, ef[0], ef[rounds - 1]);
    printf("  ratio coop / eventfd:               %8.2f (goal <= 1.2)\n",
           mc / me);
    printf("  ratio within each round:            %8.2f median, %.2f-%.2f\n\n",
           mr, ratio[0], ratio[rounds - 1]);

    struct sleep_result rc[rounds], ry[rounds], rh[rounds];
    for (int i = 0; i < rounds; i++) {
        coop_sleepers(sleepers, span, seed, &rc[i]);
        coop_yielders(sleepers, span, seed, &ry[i]);
        heap_sleepers(sleepers, span, seed, &rh[i]);
    }
    printf("%ld sleepers, random deadlines 0-%lld ms (seed %llu):\n", sleepers,
           (long long)(span / 1000000), (unsigned long long)seed);
    printf("  checks, all rounds: %s\n", failures ? "FAILED (see above)" :
           "every sleeper woken once, in deadline order, none early");
    print_sleep("coroutines (coop_sleep_ns, 16 KiB stacks):", rc, rounds);
    print_sleep("reference (same coroutines, yield + coop_enter, no loop):",
                ry, rounds);
    print_sleep("baseline (binary heap + clock_nanosleep, no coroutines):",
                rh, rounds);
    printf("  the loop's own cost per sleep (loop CPU, sleepers - reference):"
           " %.0f ns\n", loop_own(rc, ry, rounds));
    printf("\n"
        "  setup: create + first enter + coop_sleep_ns until it yields\n"
        "    (reference: until coop_yield; baseline: one heap insert), wall\n"
        "    time per sleeper.\n"
        "  loop CPU: the thread's CPU time in coop_loop_run per sleep: expiry,\n"
        "    enter, finish, and the check's clock read; time blocked waiting\n"
        "    for the next deadline costs none.  Reference: the CPU time of\n"
        "    entering each coroutine to its end, in deadline order, from a\n"
        "    plain for loop; baseline: its dispatch loop.\n"
        "  wall beyond longest: (end of the run - start of setup - longest\n"
        "    sleep) per sleep: what the run took over the least it could.\n"
        "  peak RSS: the process's peak during that phase; per sleeper, above\n"
        "    the RSS it started from (memory malloc reuses from an earlier\n"
        "    phase counts as none: hence the baseline's ~0).\n");
    return failures ? 1 : 0;
}
