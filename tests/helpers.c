/* SPDX-License-Identifier: MIT */
/* Helpers shared by the suites (declared in suites.h). */
#define _GNU_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <coop.h>

#include "suites.h"

bool coop_test_skip_under(const char *runtime, const char *func,
                          const char *why)
{
    const char *active = getenv("COOP_TEST_SANITIZER");

    if (!active || strcmp(active, runtime) != 0)
        return false;
    fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: %s\n", func,
            active, why);
    return true;
}

TCase *coop_test_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, COOP_TEST_TIMEOUT);
    suite_add_tcase(s, tc);
    return tc;
}

size_t count_mappings(void)
{
    /* open and read, not stdio: the count must not see a mapping of its
     * own, and fopen's malloc may map one (musl's malloc maps small
     * groups; after a free has unmapped one, the FILE gets a new one) */
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    size_t lines = 0;
    char buf[4096];
    ssize_t n;

    ck_assert_msg(fd >= 0, "cannot open /proc/self/maps: %s",
                  strerror(errno));
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "cannot read /proc/self/maps: %s",
                      strerror(errno));
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    }
    close(fd);
    return lines;
}

size_t malloc_in_use(void)
{
#if defined(HAVE_MALLINFO2)
    return mallinfo2().uordblks;
#elif defined(HAVE_MALLINFO)
    return (size_t)(unsigned)mallinfo().uordblks;
#else
    /* musl cannot tell: the heap comparisons pass trivially, the mapping
     * counts beside them still hold */
    static int said;

    if (!said++)
        fprintf(stderr, "malloc_in_use: no mallinfo in this C library: "
                        "heap use is not checked\n");
    return 0;
#endif
}

long vm_kib(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld", &pages), 1);
    fclose(f);
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

size_t round_to_page(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    return (n + page - 1) / page * page;
}

void no_core_dumps(void)
{
    struct rlimit rl = { 0, 0 };

    setrlimit(RLIMIT_CORE, &rl);
}

void coop_test_noop(void *opaque)
{
    (void)opaque;
}

/* qemu-user reports a guest's fatal signal on the same stderr
 * ("qemu: uncaught target signal 6 ..."): that line is not ours. */
static void drop_emulator_lines(char *out)
{
    char *line = out;

    while (*line != '\0') {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);

        if (strncmp(line, "qemu: ", 6) == 0)
            memmove(line, line + n, strlen(line + n) + 1);
        else
            line += n;
    }
}

void expect_abort(void (*fn)(void *), void *arg, const char *words)
{
    char out[4096];
    size_t len = 0;
    int fds[2], status;
    pid_t pid;
    const char *nl;

    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL); /* nothing buffered may be written twice */
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        no_core_dumps();
        fn(arg);
        _exit(0); /* the misuse went unnoticed */
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
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    drop_emulator_lines(out);

    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "expected SIGABRT, child %s %d; stderr: \"%s\"",
                  WIFSIGNALED(status) ? "died of signal" : "exited with",
                  WIFSIGNALED(status) ? WTERMSIG(status)
                                      : WEXITSTATUS(status), out);
    ck_assert_msg(strncmp(out, "coop: ", 6) == 0,
                  "stderr does not start with \"coop: \": \"%s\"", out);
    nl = strchr(out, '\n');
    ck_assert_msg(nl != NULL && nl[1] == '\0',
                  "stderr is not exactly one line: \"%s\"", out);
    ck_assert_msg(strstr(out, words) != NULL,
                  "stderr \"%s\" lacks \"%s\"", out, words);
}
