/* SPDX-License-Identifier: MIT */
/*
 * Context of the backends that switch with sigsetjmp(env, 0)/siglongjmp
 * (ucontext, sigaltstack): they differ only in how a context is first made
 * (ucontext.c, sigaltstack.c); the switch they share is in sjlj.c.
 */
#ifndef COOP_SJLJ_H
#define COOP_SJLJ_H

#include <setjmp.h>
#include <stdbool.h>

#include "fpctl.h"

typedef struct coop__ctx {
    sigjmp_buf  env;
    coop__fpctl fpc;       /* control state saved when this context left */
    bool        fpc_valid; /* false: a new start, inherit the enterer's  */
} coop__ctx;

/* sigsetjmp is intercepted by ThreadSanitizer: announce the next fiber
 * only after saving this one (coop__sjlj_resume does). */
#define COOP__SWITCH_CALLS_LEAVE_HOOK 1

/* Restore to's control state if it has one, then jump into it. */
void coop__sjlj_resume(coop__ctx *from, coop__ctx *to, int action)
    __attribute__((noreturn));

/*
 * A macro, not a function: sigsetjmp must run in the frame that resumes, so
 * that after the jump back there is no extra return to mispredict (every
 * return across stacks misses the CPU's return-address predictor).
 */
#define coop__ctx_switch(from, to, action)                                  \
    __extension__({                                                         \
        coop__ctx *coop_from_ = (from);                                     \
        int coop_ret_;                                                      \
        coop__fpctl_save(&coop_from_->fpc);                                 \
        coop_from_->fpc_valid = true;                                       \
        coop_ret_ = sigsetjmp(coop_from_->env, 0);                          \
        if (coop_ret_ == 0)                                                 \
            coop__sjlj_resume(coop_from_, (to), (int)(action));             \
        (coop__action)coop_ret_;                                            \
    })

#endif /* COOP_SJLJ_H */
