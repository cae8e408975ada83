/* SPDX-License-Identifier: MIT */
/*
 * Telling AddressSanitizer, ThreadSanitizer and valgrind about our stacks
 * and switches, so programs that use them get clean reports without
 * rebuilding libcoop: the sanitizer entry points are weak references,
 * resolved when the program carries a sanitizer runtime, and the valgrind
 * client requests are no-ops outside valgrind.  Switch hooks cost one
 * predictable branch when no sanitizer is present (coop__hooks_active(),
 * switch.h, which also declares the hooks backends call).
 */
#ifndef COOP_HOOKS_H
#define COOP_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "coop.h"
#include "switch.h"

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

#endif /* COOP_HOOKS_H */
