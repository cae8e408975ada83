/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdint.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif
#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
#endif

#include "coop-internal.h"
#include "hooks.h"

/* AddressSanitizer's fiber interface (sanitizer/common_interface_defs.h). */
extern void __sanitizer_start_switch_fiber(void **fake_stack_save,
                                           const void *bottom, size_t size)
    __attribute__((weak));
extern void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                            const void **bottom_old,
                                            size_t *size_old)
    __attribute__((weak));
extern void __asan_unpoison_memory_region(void const volatile *addr,
                                          size_t size) __attribute__((weak));

/* ThreadSanitizer's fiber interface (sanitizer/tsan_interface.h). */
extern void *__tsan_get_current_fiber(void) __attribute__((weak));
extern void *__tsan_create_fiber(unsigned flags) __attribute__((weak));
extern void __tsan_destroy_fiber(void *fiber) __attribute__((weak));
extern void __tsan_switch_to_fiber(void *fiber, unsigned flags)
    __attribute__((weak));

unsigned int coop__slow;

/* Functions that call __tsan_switch_to_fiber return on the other fiber:
 * ThreadSanitizer must not record their entry and exit, or it pops a
 * frame from the wrong fiber's shadow stack. */
#if defined(__clang__)
#define COOP__NO_TSAN __attribute__((disable_sanitizer_instrumentation))
#elif defined(__GNUC__)
#define COOP__NO_TSAN __attribute__((no_sanitize_thread))
#else
#define COOP__NO_TSAN
#endif

static bool coop__have_asan(void)
{
    return __sanitizer_start_switch_fiber && __sanitizer_finish_switch_fiber;
}

static bool coop__have_tsan(void)
{
    return __tsan_get_current_fiber && __tsan_create_fiber &&
           __tsan_destroy_fiber && __tsan_switch_to_fiber;
}

__attribute__((constructor)) static void coop__hooks_setup(void)
{
    if (coop__have_asan() || coop__have_tsan())
        __atomic_fetch_or(&coop__slow, COOP__SLOW_HOOKS, __ATOMIC_RELAXED);
}

void coop__hooks_stack_made(coop_t *co, void *lo, void *hi)
{
#ifdef HAVE_VALGRIND_MEMCHECK_H
    /* A reused stack slot: memcheck still sees the dead frames of the
     * stack that was there, perhaps where this header now lies, and does
     * not know that MADV_DONTNEED zeroed them.  First, before any write. */
    VALGRIND_MAKE_MEM_DEFINED(co, sizeof(*co));
    VALGRIND_MAKE_MEM_UNDEFINED(lo, (size_t)((char *)hi - (char *)lo));
#endif
    co->stack_lo = lo;
#ifdef HAVE_VALGRIND_VALGRIND_H
    co->valgrind_stack_id = VALGRIND_STACK_REGISTER(lo, hi);
#else
    (void)hi;
#endif
}

void coop__hooks_stack_gone(coop_t *co)
{
#ifdef HAVE_VALGRIND_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(co->valgrind_stack_id);
#endif
    if (co->tsan_fiber && coop__have_tsan()) {
        __tsan_destroy_fiber(co->tsan_fiber);
        co->tsan_fiber = NULL;
    }
    /* Instrumented frames may leave poisoned redzones behind; the shadow
     * must be clean before the memory goes to someone else. */
    if (__asan_unpoison_memory_region)
        __asan_unpoison_memory_region(co->stack_lo,
                                      (size_t)((char *)co - (char *)co->stack_lo));
}

COOP__NO_TSAN void coop__hooks_leave(coop_t *from, coop_t *to, enum coop__leave how)
{
    if (coop__have_tsan()) {
        if (!from->tsan_fiber && from->is_main)
            from->tsan_fiber = __tsan_get_current_fiber();
        if (!to->tsan_fiber)
            to->tsan_fiber = to->is_main ? NULL : __tsan_create_fiber(0);
        if (to->tsan_fiber)
            __tsan_switch_to_fiber(to->tsan_fiber, 0);
    }
    if (coop__have_asan()) {
        const void *bottom;
        size_t size;

        if (how == COOP__LEAVE_ENTER) {
            bottom = to->stack_lo;
            size = (size_t)((char *)to - (char *)to->stack_lo);
        } else {
            bottom = from->asan_caller_bottom;
            size = from->asan_caller_size;
        }
        /* A finishing coroutine's fake frames die with it. */
        __sanitizer_start_switch_fiber(how == COOP__LEAVE_FINISH
                                           ? NULL : &from->asan_fake_stack,
                                       bottom, size);
    }
}

void coop__hooks_arrive(coop_t *self, bool arrived_from_caller)
{
    if (coop__have_asan()) {
        if (arrived_from_caller)
            __sanitizer_finish_switch_fiber(self->asan_fake_stack,
                                            &self->asan_caller_bottom,
                                            &self->asan_caller_size);
        else
            __sanitizer_finish_switch_fiber(self->asan_fake_stack, NULL, NULL);
    }
}

COOP__NO_TSAN void coop__hooks_leave_ctx(coop__ctx *from, coop__ctx *to, int action)
{
    coop__hooks_leave(coop__ctx_owner(from), coop__ctx_owner(to),
                      action == COOP__ENTER ? COOP__LEAVE_ENTER
                      : action == COOP__YIELD ? COOP__LEAVE_YIELD
                                              : COOP__LEAVE_FINISH);
}

COOP__NO_TSAN void coop__hooks_boot_go(coop_t *co, struct coop__boot *b)
{
    if (coop__have_tsan()) {
        b->creator_fiber = __tsan_get_current_fiber();
        co->tsan_fiber = __tsan_create_fiber(0);
        __tsan_switch_to_fiber(co->tsan_fiber, 0);
    }
    if (coop__have_asan())
        __sanitizer_start_switch_fiber(&b->creator_fake_stack, co->stack_lo,
                                       (size_t)((char *)co - (char *)co->stack_lo));
}

void coop__hooks_boot_arrive(struct coop__boot *b)
{
    if (coop__have_asan())
        __sanitizer_finish_switch_fiber(NULL, &b->creator_bottom,
                                        &b->creator_size);
}

COOP__NO_TSAN void coop__hooks_boot_leave(coop_t *co, struct coop__boot *b)
{
    if (coop__have_tsan())
        __tsan_switch_to_fiber(b->creator_fiber, 0);
    if (coop__have_asan())
        __sanitizer_start_switch_fiber(&co->asan_fake_stack, b->creator_bottom,
                                       b->creator_size);
}

void coop__hooks_boot_back(struct coop__boot *b)
{
    if (coop__have_asan())
        __sanitizer_finish_switch_fiber(b->creator_fake_stack, NULL, NULL);
}
