/* SPDX-License-Identifier: MIT */
/* Mutexes, rwlocks and queues shared between threads. */
#include <coop.h>

#include "suites.h"

Suite *xsync_suite(void)
{
    Suite *s = suite_create("xsync");

    return s;
}
