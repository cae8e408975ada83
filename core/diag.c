/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coop-internal.h"
#include "diag.h"

void coop__die(const char *fmt, ...)
{
    char line[256];
    size_t len;
    va_list ap;

    memcpy(line, "coop: ", 6);
    va_start(ap, fmt);
    vsnprintf(line + 6, sizeof(line) - 7, fmt, ap);
    va_end(ap);
    len = strlen(line);
    line[len++] = '\n';
    /* One write: the line stays whole even when threads report at once,
     * and nothing here allocates (we may be out of memory or in a handler). */
    if (write(STDERR_FILENO, line, len) < 0) {
        /* nothing better to do */
    }
    abort();
}

const char *coop__label(const coop_t *co, char buf[COOP__LABEL_MAX])
{
    if (co->has_name)
        snprintf(buf, COOP__LABEL_MAX, "'%s'", co->name);
    else
        snprintf(buf, COOP__LABEL_MAX, "%p", (const void *)co);
    return buf;
}
