/* SPDX-License-Identifier: MIT */
/*
 * Telling AddressSanitizer, ThreadSanitizer and valgrind about our stacks
 * and switches, so programs that use them get clean reports without
 * rebuilding libcoop: the sanitizer entry points are weak references,
 * resolved when the program carries a sanitizer runtime, and the valgrind
 * client requests are no-ops outside valgrind.  Switch hooks cost one
 * predictable branch when no sanitizer is present.
 */
#ifndef COOP_HOOKS_H
#define COOP_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "coop.h"
#include "switch.h"

/* Non-zero when an AddressSanitizer or ThreadSanitizer runtime is there. */
extern int coop__hooks_on;

/* How the switch that is about to happen leaves the current context. */
enum coop__leave {
    COOP__LEAVE_ENTER,  /* to a coroutine, onto its own stack         */
    COOP__LEAVE_YIELD,  /* back to our caller, onto the caller's stack */
    COOP__LEAVE_FINISH, /* back to our caller; our frames are done     */
};

/* A stack was made for co (valgrind), or is about to go away. */
void coop__hooks_stack_made(coop_t *co, void *lo, void *hi);
void coop__hooks_stack_gone(coop_t *co);

/* Right before the switch from `from` to `to`, and right after arriving
 * back in self; arrived_from_caller: self is a coroutine its caller just
 * entered (it learns where the caller's stack is). */
void coop__hooks_leave(coop_t *from, coop_t *to, enum coop__leave how);
void coop__hooks_arrive(coop_t *self, bool arrived_from_caller);

/* The same from a backend's switch, between saving `from` and jumping to
 * `to` (backends whose switch ThreadSanitizer intercepts, sigsetjmp, must
 * announce the new fiber after the save: see COOP__SWITCH_CALLS_LEAVE_HOOK
 * in switch.h).  action is what the switch hands over. */
void coop__hooks_leave_ctx(coop__ctx *from, coop__ctx *to, int action);

/*
 * Making a context may run code on the new stack before the coroutine
 * exists for anyone (ucontext, sigaltstack).  The backend brackets that:
 * boot_go in the creator right before jumping onto the new stack,
 * boot_arrive first thing there, boot_leave there right before jumping
 * back, boot_back in the creator after it is back.
 */
struct coop__boot {
    void       *creator_fake_stack;
    const void *creator_bottom;
    size_t      creator_size;
    void       *creator_fiber;
};
void coop__hooks_boot_go(coop_t *co, struct coop__boot *b);
void coop__hooks_boot_arrive(struct coop__boot *b);
void coop__hooks_boot_leave(coop_t *co, struct coop__boot *b);
void coop__hooks_boot_back(struct coop__boot *b);

#endif /* COOP_HOOKS_H */
