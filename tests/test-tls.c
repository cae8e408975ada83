/* SPDX-License-Identifier: MIT */
/* Thread-local storage that follows a coroutine to its new thread. */
#include <coop.h>

#include "suites.h"

Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");

    return s;
}
