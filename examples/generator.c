/* SPDX-License-Identifier: MIT */
/*
 * A generator: a coroutine produces values one at a time, and the caller
 * pulls them with coop_enter().  The coroutine keeps its local state (here
 * the two last Fibonacci numbers) on its own stack between calls.
 */
#include <stdbool.h>
#include <stdio.h>

#include <coop.h>

struct fib {
    unsigned long long value; /* the value just produced */
    bool done;
};

static void fibonacci(void *opaque)
{
    struct fib *out = opaque;
    unsigned long long a = 0, b = 1;

    while (a <= 1000) {
        out->value = a;
        coop_yield(); /* hand the value to whoever entered us */
        unsigned long long next = a + b;
        a = b;
        b = next;
    }
    out->done = true; /* returning finishes the coroutine */
}

int main(void)
{
    struct fib f = { 0, false };
    coop_t *gen = coop_create(fibonacci, &f);

    if (!gen) {
        perror("coop_create");
        return 1;
    }
    printf("Fibonacci numbers up to 1000, from a coroutine (%s backend):\n",
           coop_backend());
    for (;;) {
        coop_enter(gen); /* runs fibonacci() until its next yield */
        if (f.done)
            break;       /* it returned: gen is gone now */
        printf(" %llu", f.value);
    }
    printf("\n");
    return 0;
}
