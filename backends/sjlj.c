/* SPDX-License-Identifier: MIT */
/*
 * The switch shared by the ucontext and sigaltstack backends:
 * sigsetjmp(env, 0)/siglongjmp, which skip the signal-mask syscall, plus
 * the floating-point control state that jump buffers do not hold.
 */

/* _FORTIFY_SOURCE turns siglongjmp into a checking version that aborts
 * when the target frame lies on another stack, which is every switch here. */
#undef _FORTIFY_SOURCE

#include "config.h"

#include "switch.h"

void coop__sjlj_resume(coop__ctx *from, coop__ctx *to, int action)
{
    if (coop__hooks_active())
        coop__hooks_leave_ctx(from, to, action);
    /* A context starting afresh keeps the enterer's control state. */
    if (to->fpc_valid)
        coop__fpctl_apply(&from->fpc, &to->fpc);
    siglongjmp(to->env, action);
}

void coop__ctx_restart(coop__ctx *ctx)
{
    ctx->fpc_valid = false;
}

void coop__ctx_release(coop__ctx *ctx)
{
    (void)ctx;
}
