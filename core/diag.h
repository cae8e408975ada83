/* SPDX-License-Identifier: MIT */
/* Misuse reports: one "coop: ..." line on stderr, then abort(). */
#ifndef COOP_DIAG_H
#define COOP_DIAG_H

#include "coop.h"

#define COOP__LABEL_MAX 48

void coop__die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2), cold));

/* "'name'" or the handle's address, for messages. */
const char *coop__label(const coop_t *co, char buf[COOP__LABEL_MAX]);

#endif /* COOP_DIAG_H */
