/* SPDX-License-Identifier: MIT */
/*
 * C++ exceptions inside coroutines: thrown and caught there, across
 * yields, in interleaved coroutines, with destructors running while the
 * stack unwinds; one that escapes the entry function ends the process
 * through std::terminate().  Also: the COOP_TLS_* macros compile as C++
 * and follow a coroutine to another thread.
 */
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>

#include <coop.h>

#include "suites.h"

namespace {

struct caught_log {
    int caught = 0;
    std::string what;
    int destructed = 0;
};

void throw_and_catch(void *opaque)
{
    caught_log *log = static_cast<caught_log *>(opaque);

    try {
        throw std::runtime_error("inside");
    } catch (const std::runtime_error &e) {
        log->caught++;
        log->what = e.what();
    }
}

START_TEST(test_exception_caught_inside_coroutine)
{
    caught_log log;
    coop_t *co = coop_create(throw_and_catch, &log);

    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_int_eq(log.caught, 1);
    ck_assert_str_eq(log.what.c_str(), "inside");
}
END_TEST

/* ---------------------------------------------- thrown after a yield */

struct counts_destruction {
    int *counter;
    explicit counts_destruction(int *c) : counter(c) {}
    ~counts_destruction() { ++*counter; }
    counts_destruction(const counts_destruction &) = delete;
    counts_destruction &operator=(const counts_destruction &) = delete;
};

__attribute__((noinline)) void yield_then_throw(caught_log *log, int value)
{
    counts_destruction guard(&log->destructed);
    /* long enough to live on the heap */
    std::string text(100, static_cast<char>('a' + value));

    coop_yield();
    throw std::runtime_error(text + std::to_string(value));
}

void catches_across_yield(void *opaque)
{
    caught_log *log = static_cast<caught_log *>(opaque);

    try {
        yield_then_throw(log, 1);
    } catch (const std::runtime_error &e) {
        log->caught++;
        log->what = e.what();
    }
}

START_TEST(test_exception_thrown_after_resume_caught_in_entry)
{
    caught_log log;
    const std::string expect = std::string(100, 'b') + "1";
    coop_t *co = coop_create(catches_across_yield, &log);

    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_int_eq(log.caught, 0);
    coop_enter(co);
    ck_assert_int_eq(log.caught, 1);
    ck_assert_str_eq(log.what.c_str(), expect.c_str());
}
END_TEST

START_TEST(test_destructors_run_while_unwinding)
{
    caught_log log;
    coop_t *co = coop_create(catches_across_yield, &log);

    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_int_eq(log.destructed, 0); /* guard alive across the yield */
    coop_enter(co);
    ck_assert_int_eq(log.destructed, 1);
    ck_assert_int_eq(log.caught, 1);
}
END_TEST

/* ------------------------------------------------ interleaved throwers */

struct interleaved {
    caught_log log;
    int id = 0;
    int wrong = 0;
};

void throws_own_int(void *opaque)
{
    interleaved *me = static_cast<interleaved *>(opaque);

    for (int round = 0; round < 3; round++) {
        try {
            counts_destruction guard(&me->log.destructed);

            coop_yield(); /* the other coroutine throws meanwhile */
            throw me->id * 100 + round;
        } catch (int v) {
            if (v != me->id * 100 + round)
                me->wrong++;
            me->log.caught++;
        }
        coop_yield();
    }
}

START_TEST(test_interleaved_coroutines_throw_across_yields)
{
    interleaved a, b;

    a.id = 1;
    b.id = 2;
    coop_t *ca = coop_create(throws_own_int, &a);
    coop_t *cb = coop_create(throws_own_int, &b);
    ck_assert_ptr_nonnull(ca);
    ck_assert_ptr_nonnull(cb);
    /* each enter: a yield inside a try, then a throw+catch, alternating */
    for (int i = 0; i < 7; i++) {
        coop_enter(ca);
        coop_enter(cb);
    }
    ck_assert_int_eq(a.log.caught, 3);
    ck_assert_int_eq(b.log.caught, 3);
    ck_assert_int_eq(a.wrong, 0);
    ck_assert_int_eq(b.wrong, 0);
    ck_assert_int_eq(a.log.destructed, 3);
    ck_assert_int_eq(b.log.destructed, 3);
}
END_TEST

/* --------------------------------------------- escaping the entry */

void lets_exception_escape(void *opaque)
{
    static_cast<void>(opaque);
    throw std::runtime_error("escapes");
}

/* Must end in std::terminate() (SIGABRT): not in main's catch, not a
 * crash elsewhere. */
START_TEST(test_exception_escaping_entry_terminates)
{
    coop_t *co = coop_create(lets_exception_escape, nullptr);

    ck_assert_ptr_nonnull(co);
    try {
        coop_enter(co);
    } catch (...) {
        ck_abort_msg("the exception crossed into the enterer");
    }
    ck_abort_msg("coop_enter returned after an uncaught exception");
}
END_TEST

/* ------------------------------------- COOP_TLS_* in C++, one hop */

struct cxx_tls_pair {
    long value;
    const void *owner;
};
COOP_TLS_DEFINE_STATIC(cxx_tls_pair, cxx_tls);

struct cxx_hop {
    cxx_tls_pair before{}, after{};
    const cxx_tls_pair *ptr_before = nullptr, *ptr_after = nullptr;
};

void cxx_tls_hop(void *opaque)
{
    cxx_hop *h = static_cast<cxx_hop *>(opaque);

    h->before = get_cxx_tls();
    h->ptr_before = get_ptr_cxx_tls();
    coop_yield(); /* resumed on the std::thread */
    h->after = get_cxx_tls();
    h->ptr_after = get_ptr_cxx_tls();
}

START_TEST(test_tls_macros_follow_coroutine)
{
    cxx_hop h;
    const cxx_tls_pair *other = nullptr;
    coop_t *co = coop_create(cxx_tls_hop, &h);

    ck_assert_ptr_nonnull(co);
    set_cxx_tls(cxx_tls_pair{1, get_ptr_cxx_tls()});
    coop_enter(co);
    std::thread t([&] {
        set_cxx_tls(cxx_tls_pair{2, get_ptr_cxx_tls()});
        other = get_ptr_cxx_tls();
        coop_enter(co);
    });
    t.join();
    ck_assert_int_eq(h.before.value, 1);
    ck_assert_ptr_eq(h.ptr_before, get_ptr_cxx_tls());
    ck_assert_int_eq(h.after.value, 2);
    ck_assert_ptr_eq(h.after.owner, other);
    ck_assert_ptr_eq(h.ptr_after, other);
    ck_assert_ptr_ne(other, get_ptr_cxx_tls());
}
END_TEST

void setup_no_core()
{
    no_core_dumps();
}

} // namespace

extern "C" Suite *cxx_suite(void)
{
    Suite *s = suite_create("cxx");
    TCase *tc;

    tc = coop_test_tcase(s, "exceptions");
    tcase_add_test(tc, test_exception_caught_inside_coroutine);
    tcase_add_test(tc, test_exception_thrown_after_resume_caught_in_entry);
    tcase_add_test(tc, test_destructors_run_while_unwinding);
    tcase_add_test(tc, test_interleaved_coroutines_throw_across_yields);

    tc = coop_test_tcase(s, "tls");
    tcase_add_test(tc, test_tls_macros_follow_coroutine);

    tc = coop_test_tcase(s, "terminate");
    tcase_add_checked_fixture(tc, setup_no_core, nullptr);
    tcase_add_test_raise_signal(tc, test_exception_escaping_entry_terminates,
                                SIGABRT);
    return s;
}
