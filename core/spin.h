/* SPDX-License-Identifier: MIT */
/*
 * The bit lock inside a mutex's or rwlock's state word.  It guards the
 * waiter FIFO and the state's changes on the slow paths only; it is held
 * for a few instructions (never across a switch), so spinning on it is
 * cheap, and a holder preempted by the kernel is waited for with
 * sched_yield() instead of burning the rest of a time slice.
 */
#ifndef COOP_SPIN_H
#define COOP_SPIN_H

#include <sched.h>
#include <stdint.h>

static inline void coop__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#elif defined(__riscv)
    __asm__ volatile(".insn i 0x0F, 0, x0, x0, 0x010" ::: "memory"); /* pause */
#else
    __asm__ volatile("" ::: "memory");
#endif
}

/* One more round of waiting for another thread: pause, now and then give
 * the CPU away (the other thread may be preempted while it holds a bit). */
static inline void coop__spin_wait(unsigned *round)
{
    if ((++*round & 63) == 0)
        sched_yield();
    else
        coop__cpu_relax();
}

/* Set bit in *word once it is clear; returns the word as it was (bit
 * clear).  Acquire: what the last holder wrote before clearing it is seen. */
static inline uintptr_t coop__bit_lock(uintptr_t *word, uintptr_t bit)
{
    uintptr_t s = __atomic_load_n(word, __ATOMIC_RELAXED);
    unsigned round = 0;

    for (;;) {
        if (s & bit) {
            coop__spin_wait(&round);
            s = __atomic_load_n(word, __ATOMIC_RELAXED);
        } else if (__atomic_compare_exchange_n(word, &s, s | bit, true,
                                               __ATOMIC_ACQUIRE,
                                               __ATOMIC_RELAXED)) {
            return s;
        }
    }
}

/* Publish the new word (its lock bit clear) and with it what was done
 * under the lock. */
static inline void coop__bit_unlock(uintptr_t *word, uintptr_t value)
{
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}

#endif /* COOP_SPIN_H */
