/* SPDX-License-Identifier: MIT */
/*
 * Attributes and creation errors: defaults, EINVAL, ENOMEM under an
 * address-space limit, nothing leaked on failure, and the COOP_STACK_SIZE
 * environment variable (through a fresh process, as it is read once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <coop.h>

#include "suites.h"

static void count(void *opaque)
{
    (*(int *)opaque)++;
}

START_TEST(test_attr_init_defaults)
{
    coop_attr_t attr;
    coop_t *co, *plain;

    memset(&attr, 0xab, sizeof(attr)); /* whatever was there before */
    coop_attr_init(&attr);
    ck_assert_uint_eq(attr.stack_size, 0);
    ck_assert_ptr_null(attr.name);

    co = coop_create_attr(&attr, coop_test_noop, NULL);
    plain = coop_create(coop_test_noop, NULL);
    ck_assert_ptr_nonnull(co);
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_null(coop_name(co));
    ck_assert_uint_eq(coop_stack_size(co), coop_stack_size(plain));
    coop_enter(co);
    coop_enter(plain);
}
END_TEST

START_TEST(test_create_null_fn_is_einval)
{
    coop_attr_t attr;

    errno = 0;
    ck_assert_ptr_null(coop_create(NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);

    coop_attr_init(&attr);
    errno = 0;
    ck_assert_ptr_null(coop_create_attr(&attr, NULL, &attr));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static void expect_einval_for_size(size_t size)
{
    coop_attr_t attr;

    coop_attr_init(&attr);
    attr.stack_size = size;
    errno = 0;
    ck_assert_ptr_null(coop_create_attr(&attr, coop_test_noop, NULL));
    ck_assert_msg(errno == EINVAL, "stack_size %zu: errno %d (%s)", size,
                  errno, strerror(errno));
}

START_TEST(test_unmappable_stack_size_is_einval)
{
    expect_einval_for_size(SIZE_MAX);
    expect_einval_for_size(SIZE_MAX - 4095); /* rounding must not wrap */
    expect_einval_for_size((size_t)1 << 62);
    /* coop.h: "Decision: more than 2^46 bytes" */
    expect_einval_for_size(((size_t)1 << 46) + 1);
}
END_TEST

START_TEST(test_failed_create_leaks_nothing)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "the runtime maps memory of its own: /proc/self/maps "
                "counts mean nothing\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    coop_attr_t attr;
    size_t maps, heap;
    int ran = 0;

    coop_attr_init(&attr);
    /* warm up: per-thread state, count_mappings' stdio */
    coop_enter(coop_create(count, &ran));
    /* Check keeps a copy of the file name of the last assertion on the
     * heap: make it this file's before the snapshot as after the loop. */
    ck_assert_int_eq(ran, 1);
    maps = count_mappings();
    heap = malloc_in_use();

    for (int i = 0; i < 1000; i++) {
        ck_assert_ptr_null(coop_create(NULL, NULL));
        attr.stack_size = SIZE_MAX;
        ck_assert_ptr_null(coop_create_attr(&attr, count, &ran));
        attr.stack_size = (size_t)1 << 62;
        ck_assert_ptr_null(coop_create_attr(&attr, count, &ran));
    }
    ck_assert_uint_eq(count_mappings(), maps);
    ck_assert_uint_le(malloc_in_use(), heap);

    /* and the library still works */
    for (int i = 0; i < 10; i++) {
        coop_t *co = coop_create(count, &ran);

        ck_assert_ptr_nonnull(co);
        coop_enter(co);
    }
    ck_assert_int_eq(ran, 11);
}
END_TEST

/* ------------------------------------------------------ ENOMEM */

/* What the child found, sent back through a pipe. */
struct enomem_report {
    int skipped;        /* the limit is not enforced (e.g. qemu-user) */
    int created;        /* coroutines made before the first failure */
    int failed;         /* a creation failed */
    int error;          /* errno of that failure */
    int finished;       /* of those created, how many ran to the end */
    int works_after;    /* creation works once the limit is lifted */
};

static size_t address_space_in_use(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;

    if (f != NULL) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

#define ENOMEM_MAX 4096

static void enomem_child(struct enomem_report *r)
{
    static coop_t *made[ENOMEM_MAX];
    struct rlimit old, lim;
    size_t headroom = (size_t)256 << 20;
    void *probe;
    int ran = 0;

    /* warm up so that the library's own set-up is not what fails */
    coop_enter(coop_create(count, &ran));
    coop_pool_drain();

    getrlimit(RLIMIT_AS, &old);
    lim = old;
    lim.rlim_cur = address_space_in_use() + headroom;
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
        r->skipped = 1;
        return;
    }
    /* a mapping twice the headroom must now fail, or nothing is enforced */
    probe = mmap(NULL, 2 * headroom, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe != MAP_FAILED) {
        munmap(probe, 2 * headroom);
        setrlimit(RLIMIT_AS, &old);
        r->skipped = 1;
        return;
    }

    ran = 0;
    while (r->created < ENOMEM_MAX) {
        errno = 0;
        made[r->created] = coop_create(count, &ran);
        if (made[r->created] == NULL) {
            r->failed = 1;
            r->error = errno;
            break;
        }
        r->created++;
    }
    for (int i = 0; i < r->created; i++)
        coop_enter(made[i]);
    r->finished = ran;

    setrlimit(RLIMIT_AS, &old);
    coop_pool_drain(); /* creation must map new stacks, not reuse */
    ran = 0;
    for (int i = 0; i < 4; i++) {
        coop_t *co = coop_create(count, &ran);

        if (co == NULL)
            break;
        coop_enter(co);
    }
    r->works_after = ran == 4;
}

START_TEST(test_enomem_under_address_space_limit)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "the runtime reserves far more address space than "
                "RLIMIT_AS allows\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    struct enomem_report r;
    int fds[2], status;
    pid_t pid;
    ssize_t got;

    /* our own child: the limit must not reach the rest of the run */
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        memset(&r, 0, sizeof(r));
        close(fds[0]);
        enomem_child(&r);
        if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    memset(&r, 0, sizeof(r));
    got = read(fds[0], &r, sizeof(r));
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the child died (status %#x)", status);
    ck_assert_int_eq(got, (ssize_t)sizeof(r));
    if (r.skipped) {
        fprintf(stderr, "%s: RLIMIT_AS is not enforced here; skipped\n",
                __func__);
        return;
    }
    ck_assert_msg(r.failed, "%d coroutines of 1 MiB fit in 256 MiB",
                  r.created);
    ck_assert_int_eq(r.error, ENOMEM);
    ck_assert_int_gt(r.created, 0);
    ck_assert_int_eq(r.finished, r.created);
    ck_assert(r.works_after);
}
END_TEST

/* --------------------------------------------------- COOP_STACK_SIZE */

/*
 * Run this program again with COOP_STACK_SIZE=value (or unset if NULL)
 * and --print-default-stack-size.  Under qemu-user without binfmt_misc
 * the kernel cannot run the program itself: then go through
 * $TEST_EMULATOR, as the test harness does.  Returns false if it cannot
 * be run at all, else fills both sizes.
 */
static bool default_stack_size_with(const char *value, size_t *a, size_t *b)
{
    char out[128];
    size_t len = 0;
    int fds[2], status;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        const char *emulator = getenv("TEST_EMULATOR");
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        if (n <= 0)
            _exit(126);
        self[n] = '\0';
        if (value != NULL)
            setenv("COOP_STACK_SIZE", value, 1);
        else
            unsetenv("COOP_STACK_SIZE");
        execl(self, "coop-test", "--print-default-stack-size", (char *)NULL);
        if (errno == ENOEXEC && emulator != NULL && *emulator != '\0')
            execl("/bin/sh", "sh", "-c",
                  "exec $TEST_EMULATOR \"$0\" --print-default-stack-size",
                  self, (char *)NULL);
        _exit(126);
    }
    close(fds[1]);
    for (;;) {
        ssize_t r = read(fds[0], out + len, sizeof(out) - 1 - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof(out) - 1)
            break;
    }
    out[len] = '\0';
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
        return false;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "COOP_STACK_SIZE=%s: child status %#x, output \"%s\"",
                  value ? value : "(unset)", status, out);
    ck_assert_msg(sscanf(out, "%zu %zu", a, b) == 2,
                  "COOP_STACK_SIZE=%s: unexpected output \"%s\"",
                  value ? value : "(unset)", out);
    return true;
}

static void expect_default_stack_size(const char *value, size_t expect)
{
    size_t a = 0, b = 0;

    if (!default_stack_size_with(value, &a, &b)) {
        fprintf(stderr, "cannot re-execute the test program; "
                "COOP_STACK_SIZE=%s not tested\n", value ? value : "");
        return;
    }
    ck_assert_msg(a == expect && b == expect,
                  "COOP_STACK_SIZE=%s: got %zu and %zu, expected %zu",
                  value ? value : "(unset)", a, b, expect);
}

START_TEST(test_env_stack_size_with_suffixes)
{
    expect_default_stack_size(NULL, 1048576);
    expect_default_stack_size("256K", 262144);
    expect_default_stack_size("2M", 2097152);
    expect_default_stack_size("1048576", 1048576);
    expect_default_stack_size("524288", 524288);
}
END_TEST

START_TEST(test_env_stack_size_rounded_to_page)
{
    expect_default_stack_size("70000", round_to_page(70000));
}
END_TEST

START_TEST(test_env_stack_size_garbage_ignored)
{
    expect_default_stack_size("garbage", 1048576);
    expect_default_stack_size("", 1048576);
    expect_default_stack_size("12Q", 1048576);
    expect_default_stack_size("-1", 1048576);
}
END_TEST

START_TEST(test_env_stack_size_small_raised_to_minimum)
{
    size_t a = 0, b = 0;

    if (!default_stack_size_with("1K", &a, &b)) {
        fprintf(stderr, "cannot re-execute the test program; skipped\n");
        return;
    }
    ck_assert_uint_ge(a, 1024);
    ck_assert_uint_le(a, round_to_page(16384));
    ck_assert_uint_eq(a % (size_t)sysconf(_SC_PAGESIZE), 0);
    ck_assert_uint_eq(b, a);
}
END_TEST

Suite *attr_suite(void)
{
    Suite *s = suite_create("attr");
    TCase *tc;

    tc = coop_test_tcase(s, "defaults");
    tcase_add_test(tc, test_attr_init_defaults);

    tc = coop_test_tcase(s, "errors");
    tcase_add_test(tc, test_create_null_fn_is_einval);
    tcase_add_test(tc, test_unmappable_stack_size_is_einval);
    tcase_add_test(tc, test_failed_create_leaks_nothing);
    tcase_add_test(tc, test_enomem_under_address_space_limit);

    tc = coop_test_tcase(s, "environment");
    tcase_add_test(tc, test_env_stack_size_with_suffixes);
    tcase_add_test(tc, test_env_stack_size_rounded_to_page);
    tcase_add_test(tc, test_env_stack_size_garbage_ignored);
    tcase_add_test(tc, test_env_stack_size_small_raised_to_minimum);
    return s;
}
