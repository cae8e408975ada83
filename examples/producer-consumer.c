/* SPDX-License-Identifier: MIT */
/*
 * Producer and consumer sharing a small ring buffer.  Each side sleeps by
 * yielding when it cannot go on, and wakes the other with coop_wake(): a
 * woken coroutine runs as soon as the one that woke it yields, so no
 * scheduler is needed beyond the first coop_enter().
 */
#include <stdbool.h>
#include <stdio.h>

#include <coop.h>

#define RING 4
#define ITEMS 10

struct channel {
    int items[RING];
    unsigned head, tail;      /* head - tail = items in the ring */
    coop_t *producer, *consumer;
    bool producer_asleep, consumer_asleep;
    bool closed;
};

static void producer(void *opaque)
{
    struct channel *ch = opaque;

    for (int i = 1; i <= ITEMS; i++) {
        while (ch->head - ch->tail == RING) { /* full: wait for the consumer */
            ch->producer_asleep = true;
            coop_yield();
        }
        ch->items[ch->head++ % RING] = i * i;
        printf("produced %d\n", i * i);
        if (ch->consumer_asleep) {
            ch->consumer_asleep = false;
            coop_wake(ch->consumer);          /* runs when we yield or end */
        }
    }
    ch->closed = true;
    if (ch->consumer_asleep) {
        ch->consumer_asleep = false;
        coop_wake(ch->consumer);
    }
}

static void consumer(void *opaque)
{
    struct channel *ch = opaque;
    int sum = 0;

    for (;;) {
        while (ch->head == ch->tail) {        /* empty: wait for the producer */
            if (ch->closed) {
                printf("consumer done, sum %d\n", sum);
                return;
            }
            ch->consumer_asleep = true;
            coop_yield();
        }
        int v = ch->items[ch->tail++ % RING];
        sum += v;
        printf("        consumed %d\n", v);
        if (ch->producer_asleep) {
            ch->producer_asleep = false;
            coop_wake(ch->producer);
        }
    }
}

int main(void)
{
    struct channel ch = { .head = 0 };

    ch.producer = coop_create(producer, &ch);
    ch.consumer = coop_create(consumer, &ch);
    if (!ch.producer || !ch.consumer) {
        perror("coop_create");
        return 1;
    }
    /* The consumer finds nothing and sleeps; entering the producer then
     * drives both to the end through their wake-ups. */
    coop_enter(ch.consumer);
    coop_enter(ch.producer);
    return 0;
}
