/* SPDX-License-Identifier: MIT */
/*
 * coop-compare: what a switch, a creation and a live coroutine cost with
 * libcoop's configured backend and, in the same run, with the coroutine
 * switches Debian packages, and with a hand-written switch that shows
 * what the machine itself charges.
 *
 *   libcoop/<backend>  coop_enter/coop_yield, coop_wake, coop_mutex
 *   fcontext           Boost.Context make_fcontext/jump_fcontext
 *   fiber              boost::context::fiber resume() (on the same stacks)
 *   pcl                PCL co_create/co_call/co_resume (ucontext inside)
 *   swapcontext        glibc makecontext/swapcontext
 *   sigsetjmp          sigsetjmp(env, 0)/siglongjmp behind a function call
 *   sigsetjmp-inline   the same jumps written inline (round trips only)
 *   raw-asm            a push/pop + jmp switch inlined into its caller:
 *                      the least a switch can cost (no call, no return)
 *   raw-asm-call       the same switch behind a function call
 *   raw-asm-fpsave     raw-asm that also stores and reloads the FP control
 *                      registers at every switch (MXCSR and the x87 control
 *                      word; FPCR on aarch64; frm on riscv64), as fcontext
 *                      does
 *   raw-asm-noguard    raw-asm on stacks without a guard (memory only)
 *   handover           two threads passing a turn, no coroutine (the
 *                      baseline of the migration case)
 *
 * Cases (each one a sample of ~10 ms of one implementation; every round
 * runs all (implementation, case) pairs in a shuffled order; the report is
 * the median over the rounds with the interquartile range):
 *
 *   rt             enter + yield round trip (ns)
 *   rt-deep        the same with one more frame on each side, a function
 *                  that makes the one switch and returns, as code around a
 *                  switch does: shows whether a switch that executes no
 *                  return of its own (fcontext, raw-asm) still leaves the
 *                  return predictor out of step for the returns above it
 *   rt-fpflags     the same while the two sides' FP status flags differ:
 *                  the coroutine raised FE_INEXACT once, the caller cleared
 *                  its flags.  A switch that reloads the saved MXCSR writes
 *                  different flags every time.
 *   create-pooled  create + enter + finish on a recycled stack (ns)
 *   create-fresh   the same on a newly mapped stack, no pool (ns)
 *   wake-chain     100 coroutines in a ring, each waking the next and
 *                  yielding: ns per hop
 *   mutex-handoff  two coroutines passing a fair mutex: ns per hand-off
 *   migrate        a coroutine entered alternately by two threads on two
 *                  CPUs: ns per hop, median of batches of 64 hops
 *                  (compare with "handover")
 *   live memory    N coroutines created and entered once, each suspended
 *                  in its first yield: RSS and mappings per coroutine, at
 *                  each N (a forked child per measurement)
 *
 * The peers have no scheduler or mutex: for wake-chain and mutex-handoff
 * they use the minimal FIFO run queue and FIFO mutex below, on top of their
 * own switch, so the figures compare the switch plus the least bookkeeping
 * with libcoop's.  Stacks: 1 MiB usable for everybody; the peers without an
 * allocator of their own get a 64 KiB PROT_NONE guard below (mmap +
 * mprotect), the promise libcoop makes; PCL allocates its own (malloc, no
 * guard) unless given a pooled one.  Nothing here fails on time.
 *
 *   bench/coop-compare [--quick] [--rounds N] [--sample-ms MS]
 *                      [--sizes N,N,...] [--no-memory] [--memory-only]
 *                      [--impls KEY,KEY,...] [--samples FILE] [--list]
 *   bench/coop-compare --only IMPL:CASE --iterations N   (for callgrind)
 *
 * BENCH_QUICK=1 in the environment means --quick.
 */

/* The sigsetjmp peers jump between stacks, which _FORTIFY_SOURCE's
 * checking longjmp rejects. */
#undef _FORTIFY_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cfenv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <coop.h>

#ifdef HAVE_BOOST_CONTEXT
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#endif
#ifdef HAVE_PCL
#include <pcl.h>
#endif

#if defined(__x86_64__) || defined(__aarch64__) || \
    (defined(__riscv) && __riscv_xlen == 64 && defined(__riscv_flen) && \
     __riscv_flen == 64)
#define HAVE_RAW_ASM 1
#endif

namespace {

/* ------------------------------------------------------------- common */

const size_t kStackSize = size_t(1) << 20; /* usable: libcoop's default  */
const size_t kGuardSize = size_t(64) << 10; /* below it: libcoop's minimum */
const size_t kPoolMax = 64;                 /* libcoop's default pool size */
const int kChain = 100;                     /* coroutines in the wake ring */

uint64_t now_ns()
{
    /* Integer arithmetic only: timing must not raise FP flags. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char *what)
{
    fprintf(stderr, "coop-compare: %s: %s\n", what, strerror(errno));
    exit(1);
}

/*
 * A switch behind a function call, as a library's is.  noinline is not
 * enough: GCC's interprocedural analysis would read the body (an asm
 * statement, no calls) and conclude that the call changes none of our
 * static variables, while the other side of the switch changes them all.
 * noipa makes the call opaque, as a call into another object file is.
 */
#if defined(__has_attribute)
#if __has_attribute(noipa)
#define BENCH_OPAQUE __attribute__((noipa))
#endif
#endif
#ifndef BENCH_OPAQUE
#define BENCH_OPAQUE __attribute__((noinline))
#endif

/* After the switch in an rt-deep helper: keeps the call to the switch from
 * becoming a tail call (a jmp), which would take the helper's own frame and
 * return away. */
#define BENCH_NO_TAIL() __asm__ volatile("" ::: "memory")

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#elif defined(__riscv)
    /* Zihintpause's pause (a fence hint: a no-op on cores without it), in
     * the encoding that assemblers without the extension accept */
    __asm__ volatile(".insn i 0x0F, 0, x0, x0, 0x010");
#endif
}

/* What a coroutine body does with the FP status flags on its first entry:
 * clear them (the caller clears its own before each timed loop, so both
 * sides agree), or raise FE_INEXACT (so the sides differ from then on in
 * every library that keeps the flags per context). */
void *const kFlagsClear = nullptr;
void *const kFlagsRaise = reinterpret_cast<void *>(1);

void first_entry_flags(void *how)
{
    if (how == kFlagsRaise)
        feraiseexcept(FE_INEXACT);
    else
        feclearexcept(FE_ALL_EXCEPT);
}

long rss_bytes()
{
    long pages = 0, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

long mappings()
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* ------------------------------------------------- the peers' stacks */

enum StackKind { STACK_POOLED, STACK_FRESH, STACK_UNGUARDED };

/* What the generic cases see of a peer's coroutine.  Each peer's record
 * starts with it and sits at the top of the coroutine's own stack (PCL's
 * on the heap: PCL places its own record in the stack it is given). */
struct Co {
    void (*body)(Co *self, void *arg);
    void *arg;
    bool done;
    char *map; /* the stack's mapping, guard included; null: not ours */
    size_t map_len;
    StackKind kind;
};

std::vector<char *> stack_pool; /* main thread only */

/* A stack of kStackSize usable bytes: from the pool, or mapped now with a
 * kGuardSize PROT_NONE guard below it (two mappings: mprotect splits the
 * one mmap made), or without a guard.  Returns the usable top, or null
 * with errno. */
char *stack_get(StackKind kind, char **map_out, size_t *len_out)
{
    size_t guard = kind == STACK_UNGUARDED ? 0 : kGuardSize;
    size_t len = kStackSize + guard;
    char *map;

    if (kind == STACK_POOLED && !stack_pool.empty()) {
        map = stack_pool.back();
        stack_pool.pop_back();
    } else {
        void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                       -1, 0);
        if (p == MAP_FAILED)
            return nullptr;
        map = static_cast<char *>(p);
        if (guard && mprotect(map, guard, PROT_NONE) != 0) {
            int err = errno;
            munmap(map, len);
            errno = err;
            return nullptr;
        }
    }
    *map_out = map;
    *len_out = len;
    return map + len;
}

void stack_release(char *map, size_t len, StackKind kind)
{
    if (!map)
        return;
    if (kind == STACK_POOLED && stack_pool.size() < kPoolMax)
        stack_pool.push_back(map);
    else
        munmap(map, len);
}

/* Lowest usable byte of a record's stack. */
char *stack_lo(const Co *co)
{
    return co->map + (co->kind == STACK_UNGUARDED ? 0 : kGuardSize);
}

/* A record of type R at the top of a new stack; the coroutine's stack
 * proper ends right below it. */
template <class R> R *place_record(StackKind kind)
{
    char *map;
    size_t len;
    char *top = stack_get(kind, &map, &len);
    if (!top)
        return nullptr;
    size_t room = (sizeof(R) + 63) & ~size_t(63);
    R *r = new (top - room) R();
    r->map = map;
    r->map_len = len;
    r->kind = kind;
    return r;
}

template <class R> void drop_record(R *r)
{
    char *map = r->map;
    size_t len = r->map_len;
    StackKind kind = r->kind;
    r->~R();
    stack_release(map, len, kind);
}

/* ------------------------------------ raw-asm: the hand-written limit */

#ifdef HAVE_RAW_ASM
struct RawCo : Co {
    void *sp;        /* where this coroutine's frame was pushed */
    void *caller_sp; /* where its resumer's was */
};

#if defined(__x86_64__)

#if defined(__CET__) && (__CET__ & 1)
#define RAW_LANDING "endbr64\n\t" /* target of an indirect jmp under IBT */
#else
#define RAW_LANDING ""
#endif
#if defined(__AVX512F__)
#define RAW_CLOBBER_AVX512                                                  \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", \
    "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", \
    "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7",
#else
#define RAW_CLOBBER_AVX512
#endif

/*
 * Push the callee-saved registers and the resume address on this stack,
 * store the stack pointer in *save, load load as the stack pointer, pop the
 * other side's resume address and jump there: it pops its registers.  No
 * call and no return, so the return-address predictor never sees a return
 * that crosses stacks.  The caller-saved registers are declared clobbered
 * (the other side ran arbitrary code meanwhile); `arg` arrives in rdi,
 * which is what a new coroutine's entry function takes as its argument.
 */
#define RAW_SWITCH_ASM(fp_save, fp_load)                                    \
    __asm__ volatile("leaq    -128(%%rsp), %%rsp\n\t" /* skip red zone */  \
                     "pushq   %%rbp\n\t"                                    \
                     "pushq   %%rbx\n\t"                                    \
                     "pushq   %%r12\n\t"                                    \
                     "pushq   %%r13\n\t"                                    \
                     "pushq   %%r14\n\t"                                    \
                     "pushq   %%r15\n\t" fp_save                            \
                     "leaq    1f(%%rip), %%rax\n\t"                         \
                     "pushq   %%rax\n\t" /* where this side resumes */     \
                     "movq    %%rsp, (%[save])\n\t"                         \
                     "movq    %[load], %%rsp\n\t"                           \
                     "popq    %%rax\n\t"                                    \
                     "jmpq    *%%rax\n"                                     \
                     "1:\n\t" RAW_LANDING fp_load                           \
                     "popq    %%r15\n\t"                                    \
                     "popq    %%r14\n\t"                                    \
                     "popq    %%r13\n\t"                                    \
                     "popq    %%r12\n\t"                                    \
                     "popq    %%rbx\n\t"                                    \
                     "popq    %%rbp\n\t"                                    \
                     "leaq    128(%%rsp), %%rsp"                            \
                     : "+D"(arg)                                            \
                     : [save] "r"(save), [load] "r"(load)                   \
                     : "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11",\
                       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",      \
                       "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",    \
                       "xmm12", "xmm13", "xmm14", "xmm15",                  \
                       RAW_CLOBBER_AVX512 "memory", "cc")

/* fcontext's habit: store MXCSR and the x87 control word, reload them. */
#define RAW_FP_SAVE                                                         \
    "subq    $8, %%rsp\n\t"                                                 \
    "stmxcsr (%%rsp)\n\t"                                                   \
    "fnstcw  4(%%rsp)\n\t"
#define RAW_FP_LOAD                                                         \
    "ldmxcsr (%%rsp)\n\t"                                                   \
    "fldcw   4(%%rsp)\n\t"                                                  \
    "addq    $8, %%rsp\n\t"

#elif defined(__aarch64__)

/* The same on aarch64: x19-x28, fp, lr and d8-d15 in a 176-byte frame
 * (offset 160: resume address, 168: FPCR for the fpsave variant); the
 * branch goes through x16 so that a BTI "c" or "j" pad accepts it.  x18
 * is clobbered too: on Linux it is an ordinary temporary to GCC. */
#define RAW_SWITCH_ASM(fp_save, fp_load)                                    \
    do {                                                                    \
        register void *x0_ __asm__("x0") = arg;                             \
        __asm__ volatile("sub     sp, sp, #176\n\t"                         \
                         "stp     x19, x20, [sp, #0]\n\t"                   \
                         "stp     x21, x22, [sp, #16]\n\t"                  \
                         "stp     x23, x24, [sp, #32]\n\t"                  \
                         "stp     x25, x26, [sp, #48]\n\t"                  \
                         "stp     x27, x28, [sp, #64]\n\t"                  \
                         "stp     x29, x30, [sp, #80]\n\t"                  \
                         "stp     d8, d9, [sp, #96]\n\t"                    \
                         "stp     d10, d11, [sp, #112]\n\t"                 \
                         "stp     d12, d13, [sp, #128]\n\t"                 \
                         "stp     d14, d15, [sp, #144]\n\t" fp_save         \
                         "adr     x16, 1f\n\t"                              \
                         "str     x16, [sp, #160]\n\t"                      \
                         "mov     x17, sp\n\t"                              \
                         "str     x17, [%[save]]\n\t"                       \
                         "mov     sp, %[load]\n\t"                          \
                         "ldr     x16, [sp, #160]\n\t"                      \
                         "br      x16\n"                                    \
                         "1:\n\t"                                           \
                         "hint    #36\n\t" /* bti j */ fp_load             \
                         "ldp     x19, x20, [sp, #0]\n\t"                   \
                         "ldp     x21, x22, [sp, #16]\n\t"                  \
                         "ldp     x23, x24, [sp, #32]\n\t"                  \
                         "ldp     x25, x26, [sp, #48]\n\t"                  \
                         "ldp     x27, x28, [sp, #64]\n\t"                  \
                         "ldp     x29, x30, [sp, #80]\n\t"                  \
                         "ldp     d8, d9, [sp, #96]\n\t"                    \
                         "ldp     d10, d11, [sp, #112]\n\t"                 \
                         "ldp     d12, d13, [sp, #128]\n\t"                 \
                         "ldp     d14, d15, [sp, #144]\n\t"                 \
                         "add     sp, sp, #176"                             \
                         : "+r"(x0_)                                        \
                         : [save] "r"(save), [load] "r"(load)               \
                         : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8",  \
                           "x9", "x10", "x11", "x12", "x13", "x14", "x15",  \
                           "x16", "x17", "x18", "v0", "v1", "v2", "v3",     \
                           "v4", "v5", "v6", "v7", "v16", "v17", "v18",     \
                           "v19", "v20", "v21", "v22", "v23", "v24", "v25", \
                           "v26", "v27", "v28", "v29", "v30", "v31", "memory", \
                           "cc");                                           \
    } while (0)

#define RAW_FP_SAVE                                                         \
    "mrs     x17, fpcr\n\t"                                                 \
    "str     x17, [sp, #168]\n\t"
#define RAW_FP_LOAD                                                         \
    "ldr     x17, [sp, #168]\n\t"                                           \
    "msr     fpcr, x17\n\t"

#define RAW_FRAME_BYTES 176
#define RAW_RESUME_SLOT 20

#elif defined(__riscv)

/* The same on riscv64: s0-s11 and fs0-fs11 in a 208-byte frame (offset
 * 192: resume address, 200: frm for the fpsave variant).  The jump goes
 * through t1: a jr through ra or t0 would be taken for a return and pop
 * the return-address stack.  ra is clobbered, as a call clobbers it. */
#define RAW_SWITCH_ASM(fp_save, fp_load)                                    \
    do {                                                                    \
        register void *a0_ __asm__("a0") = arg;                             \
        __asm__ volatile("addi    sp, sp, -208\n\t"                         \
                         "sd      s0, 0(sp)\n\t"                            \
                         "sd      s1, 8(sp)\n\t"                            \
                         "sd      s2, 16(sp)\n\t"                           \
                         "sd      s3, 24(sp)\n\t"                           \
                         "sd      s4, 32(sp)\n\t"                           \
                         "sd      s5, 40(sp)\n\t"                           \
                         "sd      s6, 48(sp)\n\t"                           \
                         "sd      s7, 56(sp)\n\t"                           \
                         "sd      s8, 64(sp)\n\t"                           \
                         "sd      s9, 72(sp)\n\t"                           \
                         "sd      s10, 80(sp)\n\t"                          \
                         "sd      s11, 88(sp)\n\t"                          \
                         "fsd     fs0, 96(sp)\n\t"                          \
                         "fsd     fs1, 104(sp)\n\t"                         \
                         "fsd     fs2, 112(sp)\n\t"                         \
                         "fsd     fs3, 120(sp)\n\t"                         \
                         "fsd     fs4, 128(sp)\n\t"                         \
                         "fsd     fs5, 136(sp)\n\t"                         \
                         "fsd     fs6, 144(sp)\n\t"                         \
                         "fsd     fs7, 152(sp)\n\t"                         \
                         "fsd     fs8, 160(sp)\n\t"                         \
                         "fsd     fs9, 168(sp)\n\t"                         \
                         "fsd     fs10, 176(sp)\n\t"                        \
                         "fsd     fs11, 184(sp)\n\t" fp_save                \
                         "lla     t1, 1f\n\t"                               \
                         "sd      t1, 192(sp)\n\t"                          \
                         "sd      sp, 0(%[save])\n\t"                       \
                         "mv      sp, %[load]\n\t"                          \
                         "ld      t1, 192(sp)\n\t"                          \
                         "jr      t1\n"                                     \
                         "1:\n\t" fp_load                                   \
                         "ld      s0, 0(sp)\n\t"                            \
                         "ld      s1, 8(sp)\n\t"                            \
                         "ld      s2, 16(sp)\n\t"                           \
                         "ld      s3, 24(sp)\n\t"                           \
                         "ld      s4, 32(sp)\n\t"                           \
                         "ld      s5, 40(sp)\n\t"                           \
                         "ld      s6, 48(sp)\n\t"                           \
                         "ld      s7, 56(sp)\n\t"                           \
                         "ld      s8, 64(sp)\n\t"                           \
                         "ld      s9, 72(sp)\n\t"                           \
                         "ld      s10, 80(sp)\n\t"                          \
                         "ld      s11, 88(sp)\n\t"                          \
                         "fld     fs0, 96(sp)\n\t"                          \
                         "fld     fs1, 104(sp)\n\t"                         \
                         "fld     fs2, 112(sp)\n\t"                         \
                         "fld     fs3, 120(sp)\n\t"                         \
                         "fld     fs4, 128(sp)\n\t"                         \
                         "fld     fs5, 136(sp)\n\t"                         \
                         "fld     fs6, 144(sp)\n\t"                         \
                         "fld     fs7, 152(sp)\n\t"                         \
                         "fld     fs8, 160(sp)\n\t"                         \
                         "fld     fs9, 168(sp)\n\t"                         \
                         "fld     fs10, 176(sp)\n\t"                        \
                         "fld     fs11, 184(sp)\n\t"                        \
                         "addi    sp, sp, 208"                              \
                         : "+r"(a0_)                                        \
                         : [save] "r"(save), [load] "r"(load)               \
                         : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6",  \
                           "a1", "a2", "a3", "a4", "a5", "a6", "a7",        \
                           "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", \
                           "ft7", "ft8", "ft9", "ft10", "ft11", "fa0",      \
                           "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", \
                           "memory");                                       \
    } while (0)

#define RAW_FP_SAVE                                                         \
    "frrm    t1\n\t"                                                        \
    "sd      t1, 200(sp)\n\t"
#define RAW_FP_LOAD                                                         \
    "ld      t1, 200(sp)\n\t"                                               \
    "fsrm    t1\n\t"

#define RAW_FRAME_BYTES 208
#define RAW_RESUME_SLOT 24

#endif

struct RawPlain {
    static inline __attribute__((always_inline)) void
    sw(void **save, void *load, void *arg)
    {
        RAW_SWITCH_ASM("", "");
    }
};

struct RawFpSave {
    static inline __attribute__((always_inline)) void
    sw(void **save, void *load, void *arg)
    {
        RAW_SWITCH_ASM(RAW_FP_SAVE, RAW_FP_LOAD);
    }
};

template <class V> struct RawAsm {
    /* Where a new coroutine's first switch lands, with co as argument. */
    [[noreturn]] static void boot(RawCo *co)
    {
        co->body(co, co->arg);
        co->done = true;
        V::sw(&co->sp, co->caller_sp, nullptr);
        __builtin_unreachable();
    }

    static Co *create(void (*body)(Co *, void *), void *arg, StackKind kind)
    {
        RawCo *co = place_record<RawCo>(kind);
        if (!co)
            return nullptr;
        co->body = body;
        co->arg = arg;
        uintptr_t top = reinterpret_cast<uintptr_t>(co) & ~uintptr_t(15);
        void (*entry)(RawCo *) = &boot;
#if defined(__x86_64__)
        /* [top-16] the entry, popped and jumped to; [top-8] a null return
         * address, where a call would have left one (stack aligned as at
         * a function's entry). */
        void **frame = reinterpret_cast<void **>(top) - 2;
        frame[0] = reinterpret_cast<void *>(entry);
        frame[1] = nullptr;
#else
        /* A zeroed frame whose resume address is the entry. */
        void **frame = reinterpret_cast<void **>(top - RAW_FRAME_BYTES);
        memset(frame, 0, RAW_FRAME_BYTES);
        frame[RAW_RESUME_SLOT] = reinterpret_cast<void *>(entry);
#endif
        co->sp = frame;
        return co;
    }

    static inline __attribute__((always_inline)) void resume(Co *c)
    {
        RawCo *co = static_cast<RawCo *>(c);
        V::sw(&co->caller_sp, co->sp, co);
    }

    static inline __attribute__((always_inline)) void yield(Co *c)
    {
        RawCo *co = static_cast<RawCo *>(c);
        V::sw(&co->sp, co->caller_sp, nullptr);
    }

    static void destroy(Co *c) { drop_record(static_cast<RawCo *>(c)); }
};

/* raw-asm behind a function call: each return crosses stacks. */
struct RawCall {
    static Co *create(void (*body)(Co *, void *), void *arg, StackKind kind)
    {
        return RawAsm<RawPlain>::create(body, arg, kind);
    }
    static BENCH_OPAQUE void resume(Co *c)
    {
        RawAsm<RawPlain>::resume(c);
        __asm__ volatile("");
    }
    static BENCH_OPAQUE void yield(Co *c)
    {
        RawAsm<RawPlain>::yield(c);
        __asm__ volatile("");
    }
    static void destroy(Co *c) { RawAsm<RawPlain>::destroy(c); }
};
#endif /* HAVE_RAW_ASM */

/* ------------------------------------------- sigsetjmp/siglongjmp */

struct SjCo : Co {
    sigjmp_buf env;    /* the coroutine, where it left */
    sigjmp_buf caller; /* its resumer */
};

SjCo *sj_starting;

/* Runs once on the new stack (through makecontext/setcontext): records
 * the context and goes back to sj_create; the first resume continues. */
void sj_boot()
{
    SjCo *co = sj_starting;
    if (sigsetjmp(co->env, 0) == 0)
        siglongjmp(co->caller, 1);
    co->body(co, co->arg);
    co->done = true;
    siglongjmp(co->caller, 1);
}

/* libcoop's ucontext backend makes contexts this way too. */
Co *sj_create(void (*body)(Co *, void *), void *arg, StackKind kind)
{
    SjCo *co = place_record<SjCo>(kind);
    ucontext_t uc;
    if (!co)
        return nullptr;
    co->body = body;
    co->arg = arg;
    if (getcontext(&uc) != 0)
        die("getcontext");
    uc.uc_stack.ss_sp = stack_lo(co);
    uc.uc_stack.ss_size = size_t(reinterpret_cast<char *>(co) - stack_lo(co));
    uc.uc_link = nullptr;
    makecontext(&uc, sj_boot, 0);
    sj_starting = co;
    if (sigsetjmp(co->caller, 0) == 0)
        setcontext(&uc);
    return co;
}

/* sigsetjmp cannot be inlined: these are real calls, as in any library. */
struct Sjlj {
    static Co *create(void (*body)(Co *, void *), void *arg, StackKind kind)
    {
        return sj_create(body, arg, kind);
    }
    static BENCH_OPAQUE void resume(Co *c)
    {
        SjCo *co = static_cast<SjCo *>(c);
        if (sigsetjmp(co->caller, 0) == 0)
            siglongjmp(co->env, 1);
    }
    static BENCH_OPAQUE void yield(Co *c)
    {
        SjCo *co = static_cast<SjCo *>(c);
        if (sigsetjmp(co->env, 0) == 0)
            siglongjmp(co->caller, 1);
    }
    static void destroy(Co *c) { drop_record(static_cast<SjCo *>(c)); }
};

/* The jumps written inline, in the loops themselves (round trips only). */
#define SJ_INLINE_RESUME(co)                                                \
    do {                                                                    \
        if (sigsetjmp((co)->caller, 0) == 0)                                \
            siglongjmp((co)->env, 1);                                       \
    } while (0)
#define SJ_INLINE_YIELD(co)                                                 \
    do {                                                                    \
        if (sigsetjmp((co)->env, 0) == 0)                                   \
            siglongjmp((co)->caller, 1);                                    \
    } while (0)

/* ------------------------------------------------------ swapcontext */

struct UcCo : Co {
    ucontext_t ctx;    /* the coroutine */
    ucontext_t caller; /* its resumer; also uc_link, where a return goes */
};

void uc_entry(unsigned lo, unsigned hi)
{
    UcCo *co = reinterpret_cast<UcCo *>((uintptr_t(hi) << 16 << 16) | lo);
    co->body(co, co->arg);
    co->done = true; /* returning resumes uc_link */
}

struct Swapcontext {
    static Co *create(void (*body)(Co *, void *), void *arg, StackKind kind)
    {
        UcCo *co = place_record<UcCo>(kind);
        if (!co)
            return nullptr;
        co->body = body;
        co->arg = arg;
        if (getcontext(&co->ctx) != 0)
            die("getcontext");
        co->ctx.uc_stack.ss_sp = stack_lo(co);
        co->ctx.uc_stack.ss_size =
            size_t(reinterpret_cast<char *>(co) - stack_lo(co));
        co->ctx.uc_link = &co->caller;
        uintptr_t p = reinterpret_cast<uintptr_t>(co);
        makecontext(&co->ctx, reinterpret_cast<void (*)()>(uc_entry), 2,
                    unsigned(p & 0xffffffffu), unsigned(p >> 16 >> 16));
        return co;
    }
    static void resume(Co *c)
    {
        UcCo *co = static_cast<UcCo *>(c);
        swapcontext(&co->caller, &co->ctx);
    }
    static void yield(Co *c)
    {
        UcCo *co = static_cast<UcCo *>(c);
        swapcontext(&co->ctx, &co->caller);
    }
    static void destroy(Co *c) { drop_record(static_cast<UcCo *>(c)); }
};

/* ------------------------------------------------ Boost.Context peers */

#ifdef HAVE_BOOST_CONTEXT
namespace bc = boost::context;
namespace bcd = boost::context::detail;

struct FcCo : Co {
    bcd::fcontext_t ctx;    /* the coroutine */
    bcd::fcontext_t caller; /* its resumer */
};

struct Fcontext {
    static void entry(bcd::transfer_t t)
    {
        FcCo *co = static_cast<FcCo *>(t.data);
        co->caller = t.fctx;
        co->body(co, co->arg);
        co->done = true;
        bcd::jump_fcontext(co->caller, nullptr); /* never comes back */
        abort();
    }
    static Co *create(void (*body)(Co *, void *), void *arg, StackKind kind)
    {
        FcCo *co = place_record<FcCo>(kind);
        if (!co)
            return nullptr;
        co->body = body;
        co->arg = arg;
        co->ctx = bcd::make_fcontext(
            co, size_t(reinterpret_cast<char *>(co) - stack_lo(co)), entry);
        return co;
    }
    static void resume(Co *c)
    {
        FcCo *co = static_cast<FcCo *>(c);
        co->ctx = bcd::jump_fcontext(co->ctx, co).fctx;
    }
    static void yield(Co *c)
    {
        FcCo *co = static_cast<FcCo *>(c);
        co->caller = bcd::jump_fcontext(co->caller, nullptr).fctx;
    }
    static void destroy(Co *c) { drop_record(static_cast<FcCo *>(c)); }
};

struct FiberCo : Co {
    bc::fiber self;   /* resuming it runs the coroutine */
    bc::fiber caller; /* resuming it goes back to the resumer */
};

/* Gives a fiber the stack below its FiberCo record (a StackAllocator). */
struct FiberStack {
    FiberCo *co;
    bc::stack_context allocate()
    {
        bc::stack_context sc;
        sc.size = size_t(reinterpret_cast<char *>(co) - stack_lo(co));
        sc.sp = co;
        return sc;
    }
    void deallocate(bc::stack_context &) noexcept {}
};

struct Fiber {
    static Co *create(void (*body)(Co *, void *), void *arg, StackKind kind)
    {
        FiberCo *co = place_record<FiberCo>(kind);
        if (!co)
            return nullptr;
        co->body = body;
        co->arg = arg;
        co->self = bc::fiber(std::allocator_arg, FiberStack{co},
                             [co](bc::fiber &&caller) {
                                 co->caller = std::move(caller);
                                 co->body(co, co->arg);
                                 co->done = true;
                                 return std::move(co->caller);
                             });
        return co;
    }
    static void resume(Co *c)
    {
        FiberCo *co = static_cast<FiberCo *>(c);
        co->self = std::move(co->self).resume();
    }
    static void yield(Co *c)
    {
        FiberCo *co = static_cast<FiberCo *>(c);
        co->caller = std::move(co->caller).resume();
    }
    static void destroy(Co *c) { drop_record(static_cast<FiberCo *>(c)); }
};
#endif /* HAVE_BOOST_CONTEXT */

/* --------------------------------------------------------------- PCL */

#ifdef HAVE_PCL
struct PclCo : Co {
    coroutine_t h;
};

struct Pcl {
    static void entry(void *data)
    {
        PclCo *co = static_cast<PclCo *>(data);
        co->body(co, co->arg);
        co->done = true; /* returning: PCL deletes it, resumes the caller */
    }
    /* Pooled: one of our stacks; fresh: PCL mallocs its own. */
    static Co *create(void (*body)(Co *, void *), void *arg, StackKind kind)
    {
        PclCo *co = new (std::nothrow) PclCo();
        if (!co) {
            errno = ENOMEM;
            return nullptr;
        }
        co->body = body;
        co->arg = arg;
        void *stack = nullptr;
        if (kind == STACK_POOLED) {
            if (!stack_get(kind, &co->map, &co->map_len)) {
                delete co;
                return nullptr;
            }
            co->kind = kind;
            stack = co->map + kGuardSize;
        }
        co->h = co_create(entry, co, stack, int(kStackSize));
        if (!co->h) {
            stack_release(co->map, co->map_len, co->kind);
            delete co;
            errno = ENOMEM;
            return nullptr;
        }
        return co;
    }
    static void resume(Co *c) { co_call(static_cast<PclCo *>(c)->h); }
    static void yield(Co *) { co_resume(); }
    static void destroy(Co *c)
    {
        PclCo *co = static_cast<PclCo *>(c);
        stack_release(co->map, co->map_len, co->kind);
        delete co;
    }
};
#endif /* HAVE_PCL */

/* ----------------------------------------------------- the cases */

enum Case {
    C_RT,
    C_RT_DEEP,
    C_RT_FLAGS,
    C_CREATE_POOLED,
    C_CREATE_FRESH,
    C_CHAIN,
    C_MUTEX,
    C_MIGRATE,
    NCASES
};

const char *const case_key[NCASES] = {
    "rt", "rt-deep", "rt-fpflags", "create-pooled", "create-fresh",
    "wake-chain", "mutex-handoff", "migrate",
};

const char *const case_title[NCASES] = {
    "enter + yield round trip",
    "round trip, one extra frame on each side (returns after each switch)",
    "round trip, FP status flags differing between the two sides",
    "create + enter + finish, pooled stack",
    "create + enter + finish, fresh stack (no pool)",
    "wake chain of 100 coroutines, per hop",
    "mutex hand-off between two coroutines",
    "thread migration: resume on the other CPU, per hop",
};

/* Two threads, pinned to two CPUs, take turns: hop t is made by thread
 * t % 2, which runs hop(arg) (resume a coroutine, or nothing for the
 * baseline) and passes the turn.  On a machine shared with other work a
 * spinning thread is now and then descheduled for a whole time slice,
 * which would swamp the figure: thread 0 stamps the clock every kBatch
 * hops, and the sample is the median batch, per hop. */
const long kBatch = 64;

struct Migration {
    std::atomic<long> turn;
    long total;
    void (*hop)(void *);
    void *arg;
    std::vector<uint64_t> stamps; /* at hops 0, kBatch, 2 kBatch... */
    int cpu[2];
};

Migration mig;
bool mig_possible;

void *mig_thread(void *p)
{
    long me = reinterpret_cast<long>(p);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(mig.cpu[me], &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    for (long t = me; t < mig.total; t += 2) {
        while (mig.turn.load(std::memory_order_acquire) != t)
            cpu_relax();
        if (mig.hop)
            mig.hop(mig.arg);
        if (t % kBatch == 0) /* kBatch is even: always thread 0 */
            mig.stamps[size_t(t / kBatch)] = now_ns();
        mig.turn.store(t + 1, std::memory_order_release);
    }
    return nullptr;
}

double migrate_run(long n, void (*hop)(void *), void *arg)
{
    pthread_t th[2];
    long batches = n / kBatch < 3 ? 3 : n / kBatch;
    mig.turn.store(0);
    mig.total = batches * kBatch + 1;
    mig.hop = hop;
    mig.arg = arg;
    mig.stamps.assign(size_t(batches) + 1, 0);
    for (long i = 0; i < 2; i++)
        if (pthread_create(&th[i], nullptr, mig_thread,
                           reinterpret_cast<void *>(i)) != 0)
            die("pthread_create");
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], nullptr);
    /* The first batch warms up (threads starting, caches). */
    std::vector<uint64_t> d;
    for (long b = 2; b <= batches; b++)
        d.push_back(mig.stamps[size_t(b)] - mig.stamps[size_t(b - 1)]);
    std::sort(d.begin(), d.end());
    return double(d[d.size() / 2]) / double(kBatch);
}

double handover_migrate(long n) { return migrate_run(n, nullptr, nullptr); }

/* Result of one live-memory measurement (sent up a pipe by the child). */
struct MemResult {
    long asked, made;
    int err;           /* why it stopped early, or 0 */
    double rss_kib;    /* RSS growth per coroutine */
    double maps;       /* /proc/self/maps lines added per coroutine */
    double create_ns;  /* create + first enter, each */
};

/* The run queue and FIFO mutex the peers get for wake-chain and
 * mutex-handoff: the least a scheduler can do. */
struct RunQueue {
    Co *slot[8];
    unsigned head, tail;
    void clear() { head = tail = 0; }
    void push(Co *c) { slot[tail++ % 8] = c; }
    Co *pop() { return head == tail ? nullptr : slot[head++ % 8]; }
};

/* Everything measured on a peer P, through P::create/resume/yield/destroy
 * only. */
template <class P> struct Generic {
    static Co *rt_co[2]; /* [0] flags cleared, [1] FE_INEXACT raised */
    static Co *deep_co;
    static Co *ring[kChain];
    static long chain_left;
    static RunQueue rq;
    struct MiniMutex {
        Co *owner;
        RunQueue waiters;
    };
    static MiniMutex mutex;
    static long mutex_rounds;
    static int mutex_started;
    static Co *mig_co;

    static Co *must(Co *co)
    {
        if (!co)
            die("creating a coroutine");
        return co;
    }

    static void yielder(Co *self, void *how)
    {
        first_entry_flags(how);
        for (;;)
            P::yield(self);
    }

    static double round_trip(int which, long n)
    {
        if (!rt_co[which]) {
            rt_co[which] = must(P::create(yielder, which ? kFlagsRaise
                                                         : kFlagsClear,
                                          STACK_POOLED));
            P::resume(rt_co[which]);
        }
        Co *co = rt_co[which];
        feclearexcept(FE_ALL_EXCEPT);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            P::resume(co);
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }
    static double rt(long n) { return round_trip(0, n); }
    static double rt_flags(long n) { return round_trip(1, n); }

    /* rt-deep: one switch per call, each side in a frame of its own. */
    static BENCH_OPAQUE void deep_resume(Co *co)
    {
        P::resume(co);
        BENCH_NO_TAIL();
    }
    static BENCH_OPAQUE void deep_yield(Co *self)
    {
        P::yield(self);
        BENCH_NO_TAIL();
    }
    static void deep_yielder(Co *self, void *how)
    {
        first_entry_flags(how);
        for (;;)
            deep_yield(self);
    }
    static double rt_deep(long n)
    {
        if (!deep_co) {
            deep_co = must(P::create(deep_yielder, kFlagsClear, STACK_POOLED));
            P::resume(deep_co);
        }
        Co *co = deep_co;
        feclearexcept(FE_ALL_EXCEPT);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            deep_resume(co);
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }

    static void finisher(Co *, void *count)
    {
        ++*static_cast<volatile long *>(count);
    }

    static double create(long n, StackKind kind)
    {
        static volatile long count;
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++) {
            Co *co = must(P::create(finisher, (void *)&count, kind));
            P::resume(co);
            if (!co->done) {
                fprintf(stderr, "coop-compare: a coroutine did not finish\n");
                exit(1);
            }
            P::destroy(co);
        }
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }
    static double create_pooled(long n) { return create(n, STACK_POOLED); }
    static double create_fresh(long n) { return create(n, STACK_FRESH); }

    static void chain_body(Co *self, void *index)
    {
        long next = (reinterpret_cast<long>(index) + 1) % kChain;
        for (;;) {
            if (chain_left > 0) {
                chain_left--;
                rq.push(ring[next]); /* wake the next one */
            }
            P::yield(self);
        }
    }

    static double chain(long n)
    {
        if (!ring[0])
            for (long i = 0; i < kChain; i++) {
                ring[i] = must(P::create(chain_body,
                                         reinterpret_cast<void *>(i),
                                         STACK_POOLED));
                P::resume(ring[i]); /* parked in its first yield */
            }
        rq.clear();
        chain_left = n;
        uint64_t t0 = now_ns();
        rq.push(ring[0]);
        while (Co *co = rq.pop())
            P::resume(co);
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n + 1);
    }

    static void lock(Co *self)
    {
        if (!mutex.owner) {
            mutex.owner = self;
            return;
        }
        mutex.waiters.push(self);
        P::yield(self); /* unlock made us the owner and woke us */
    }

    static void unlock()
    {
        Co *next = mutex.waiters.pop();
        mutex.owner = next;
        if (next)
            rq.push(next);
    }

    /* As libcoop's: the first holder waits until the other queued. */
    static void handoff_body(Co *self, void *)
    {
        lock(self);
        if (mutex_started++ == 0)
            P::yield(self);
        for (long i = 0; i < mutex_rounds; i++) {
            unlock();
            lock(self);
        }
        unlock();
    }

    static double handoff(long n)
    {
        mutex.owner = nullptr;
        mutex.waiters.clear();
        rq.clear();
        mutex_rounds = n / 2 > 0 ? n / 2 : 1;
        mutex_started = 0;
        Co *a = must(P::create(handoff_body, nullptr, STACK_POOLED));
        Co *b = must(P::create(handoff_body, nullptr, STACK_POOLED));
        P::resume(a); /* a holds it and yields */
        P::resume(b); /* b queues for it */
        uint64_t t0 = now_ns();
        rq.push(a);
        while (Co *co = rq.pop())
            P::resume(co);
        uint64_t t1 = now_ns();
        if (!a->done || !b->done) {
            fprintf(stderr, "coop-compare: mutex hand-off did not finish\n");
            exit(1);
        }
        P::destroy(a);
        P::destroy(b);
        return double(t1 - t0) / double(2 * mutex_rounds);
    }

    static void mig_hop(void *co) { P::resume(static_cast<Co *>(co)); }

    static double migrate(long n)
    {
        if (!mig_co) {
            mig_co = must(P::create(yielder, kFlagsClear, STACK_POOLED));
            P::resume(mig_co);
        }
        return migrate_run(n, mig_hop, mig_co);
    }

    static void parker(Co *self, void *) { P::yield(self); }

    static MemResult memory_kind(long n, StackKind kind)
    {
        MemResult r = MemResult();
        std::vector<Co *> live(size_t(n), nullptr); /* touched before */
        r.asked = n;
        long rss0 = rss_bytes(), maps0 = mappings();
        uint64_t t0 = now_ns();
        for (; r.made < n; r.made++) {
            Co *co = P::create(parker, nullptr, kind);
            if (!co) {
                r.err = errno;
                break;
            }
            P::resume(co);
            live[size_t(r.made)] = co;
        }
        uint64_t t1 = now_ns();
        long rss1 = rss_bytes(), maps1 = mappings();
        if (r.made > 0) {
            r.rss_kib = double(rss1 - rss0) / 1024.0 / double(r.made);
            r.maps = double(maps1 - maps0) / double(r.made);
            r.create_ns = double(t1 - t0) / double(r.made);
        }
        return r;
    }
    static MemResult memory(long n) { return memory_kind(n, STACK_FRESH); }
    static MemResult memory_noguard(long n)
    {
        return memory_kind(n, STACK_UNGUARDED);
    }
};

template <class P> Co *Generic<P>::rt_co[2];
template <class P> Co *Generic<P>::deep_co;
template <class P> Co *Generic<P>::ring[kChain];
template <class P> long Generic<P>::chain_left;
template <class P> RunQueue Generic<P>::rq;
template <class P> typename Generic<P>::MiniMutex Generic<P>::mutex;
template <class P> long Generic<P>::mutex_rounds;
template <class P> int Generic<P>::mutex_started;
template <class P> Co *Generic<P>::mig_co;

/* sigsetjmp-inline: round trips with the jumps in the loop itself.  The
 * loop counter is not modified between a sigsetjmp and the siglongjmp that
 * returns to it (the increment comes after), whatever -Wclobbered fears. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
#endif
struct SjInline {
    static SjCo *co[2];

    static void yielder(Co *self, void *how)
    {
        SjCo *me = static_cast<SjCo *>(self);
        first_entry_flags(how);
        for (;;)
            SJ_INLINE_YIELD(me);
    }

    static double round_trip(int which, long n)
    {
        if (!co[which]) {
            co[which] = static_cast<SjCo *>(
                Generic<Sjlj>::must(sj_create(yielder, which ? kFlagsRaise
                                                             : kFlagsClear,
                                              STACK_POOLED)));
            SJ_INLINE_RESUME(co[which]);
        }
        SjCo *c = co[which];
        feclearexcept(FE_ALL_EXCEPT);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            SJ_INLINE_RESUME(c);
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }
    static double rt(long n) { return round_trip(0, n); }
    static double rt_flags(long n) { return round_trip(1, n); }

    /* rt-deep: the jumps inline in a helper frame on each side. */
    static SjCo *deep_co;
    static BENCH_OPAQUE void deep_resume(SjCo *c)
    {
        SJ_INLINE_RESUME(c);
        BENCH_NO_TAIL();
    }
    static BENCH_OPAQUE void deep_yield(SjCo *me)
    {
        SJ_INLINE_YIELD(me);
        BENCH_NO_TAIL();
    }
    static void deep_yielder(Co *self, void *how)
    {
        first_entry_flags(how);
        for (;;)
            deep_yield(static_cast<SjCo *>(self));
    }
    static double rt_deep(long n)
    {
        if (!deep_co) {
            deep_co = static_cast<SjCo *>(Generic<Sjlj>::must(
                sj_create(deep_yielder, kFlagsClear, STACK_POOLED)));
            SJ_INLINE_RESUME(deep_co);
        }
        SjCo *c = deep_co;
        feclearexcept(FE_ALL_EXCEPT);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            deep_resume(c);
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }
};
SjCo *SjInline::co[2];
SjCo *SjInline::deep_co;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* ------------------------------------------------------------ libcoop */

struct Libcoop {
    static coop_t *rt_co[2];
    static coop_t *deep_co;
    static coop_t *ring[kChain];
    static long chain_left;
    static coop_t *mig_co;

    static coop_t *must(coop_t *co)
    {
        if (!co)
            die("coop_create");
        return co;
    }

    static void yielder(void *how)
    {
        first_entry_flags(how);
        for (;;)
            coop_yield();
    }

    static double round_trip(int which, long n)
    {
        if (!rt_co[which]) {
            rt_co[which] = must(
                coop_create(yielder, which ? kFlagsRaise : kFlagsClear));
            coop_enter(rt_co[which]);
        }
        coop_t *co = rt_co[which];
        feclearexcept(FE_ALL_EXCEPT);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            coop_enter(co);
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }
    static double rt(long n) { return round_trip(0, n); }
    static double rt_flags(long n) { return round_trip(1, n); }

    /* rt-deep: as Generic's, around coop_enter and coop_yield. */
    static BENCH_OPAQUE void deep_enter(coop_t *co)
    {
        coop_enter(co);
        BENCH_NO_TAIL();
    }
    static BENCH_OPAQUE void deep_yield()
    {
        coop_yield();
        BENCH_NO_TAIL();
    }
    static void deep_yielder(void *how)
    {
        first_entry_flags(how);
        for (;;)
            deep_yield();
    }
    static double rt_deep(long n)
    {
        if (!deep_co) {
            deep_co = must(coop_create(deep_yielder, kFlagsClear));
            coop_enter(deep_co);
        }
        coop_t *co = deep_co;
        feclearexcept(FE_ALL_EXCEPT);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            deep_enter(co);
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }

    static void finisher(void *count) { ++*static_cast<volatile long *>(count); }

    static double create(long n)
    {
        static volatile long count;
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            coop_enter(must(coop_create(finisher, (void *)&count)));
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n);
    }
    static double create_pooled(long n) { return create(n); }
    static double create_fresh(long n)
    {
        coop_pool_set_max(0);
        coop_pool_drain();
        double ns = create(n);
        coop_pool_set_max(kPoolMax);
        return ns;
    }

    static void chain_body(void *index)
    {
        long next = (reinterpret_cast<long>(index) + 1) % kChain;
        for (;;) {
            if (chain_left > 0) {
                chain_left--;
                coop_wake(ring[next]); /* runs when we yield */
            }
            coop_yield();
        }
    }

    static double chain(long n)
    {
        if (!ring[0])
            for (long i = 0; i < kChain; i++) {
                ring[i] = must(coop_create(chain_body,
                                           reinterpret_cast<void *>(i)));
                coop_enter(ring[i]);
            }
        chain_left = n;
        uint64_t t0 = now_ns();
        coop_enter(ring[0]); /* returns when the chain has run out */
        uint64_t t1 = now_ns();
        return double(t1 - t0) / double(n + 1);
    }

    struct Handoff {
        coop_mutex_t m;
        long rounds;
        int started;
    };

    static void handoff_body(void *opaque)
    {
        Handoff *h = static_cast<Handoff *>(opaque);
        coop_mutex_lock(&h->m);
        if (h->started++ == 0)
            coop_yield(); /* the first holder waits until the other queues */
        for (long i = 0; i < h->rounds; i++) {
            coop_mutex_unlock(&h->m);
            coop_mutex_lock(&h->m);
        }
        coop_mutex_unlock(&h->m);
    }

    static double handoff(long n)
    {
        static Handoff h;
        coop_mutex_init(&h.m);
        h.rounds = n / 2 > 0 ? n / 2 : 1;
        h.started = 0;
        coop_t *a = must(coop_create(handoff_body, &h));
        coop_t *b = must(coop_create(handoff_body, &h));
        coop_enter(a);
        coop_enter(b);
        uint64_t t0 = now_ns();
        coop_enter(a); /* the two alternate to the end */
        uint64_t t1 = now_ns();
        if (!coop_mutex_trylock(&h.m)) {
            fprintf(stderr, "coop-compare: mutex hand-off did not finish\n");
            exit(1);
        }
        coop_mutex_unlock(&h.m);
        return double(t1 - t0) / double(2 * h.rounds);
    }

    static void mig_hop(void *co) { coop_enter(static_cast<coop_t *>(co)); }

    static double migrate(long n)
    {
        if (!mig_co) {
            mig_co = must(coop_create(yielder, kFlagsClear));
            coop_enter(mig_co);
        }
        return migrate_run(n, mig_hop, mig_co);
    }

    static void parker(void *) { coop_yield(); }

    static MemResult memory(long n)
    {
        MemResult r = MemResult();
        std::vector<coop_t *> live(size_t(n), nullptr);
        r.asked = n;
        coop_pool_drain();
        long rss0 = rss_bytes(), maps0 = mappings();
        uint64_t t0 = now_ns();
        for (; r.made < n; r.made++) {
            coop_t *co = coop_create(parker, nullptr);
            if (!co) {
                r.err = errno;
                break;
            }
            coop_enter(co);
            live[size_t(r.made)] = co;
        }
        uint64_t t1 = now_ns();
        long rss1 = rss_bytes(), maps1 = mappings();
        if (r.made > 0) {
            r.rss_kib = double(rss1 - rss0) / 1024.0 / double(r.made);
            r.maps = double(maps1 - maps0) / double(r.made);
            r.create_ns = double(t1 - t0) / double(r.made);
        }
        return r;
    }
};
coop_t *Libcoop::rt_co[2];
coop_t *Libcoop::deep_co;
coop_t *Libcoop::ring[kChain];
long Libcoop::chain_left;
coop_t *Libcoop::mig_co;

/* ------------------------------------------------- the implementations */

typedef double (*RunFn)(long n);
typedef MemResult (*MemFn)(long n);

struct Impl {
    std::string key;
    const char *what;          /* one line: what is measured */
    RunFn run[NCASES];         /* null: not applicable */
    const char *why_not[NCASES]; /* why a case is null, when it is news */
    MemFn mem;
    const char *missing;       /* why the whole implementation is absent */
};

template <class P> Impl peer(const char *key, const char *what)
{
    Impl im = Impl();
    im.key = key;
    im.what = what;
    im.run[C_RT] = Generic<P>::rt;
    im.run[C_RT_DEEP] = Generic<P>::rt_deep;
    im.run[C_RT_FLAGS] = Generic<P>::rt_flags;
    im.run[C_CREATE_POOLED] = Generic<P>::create_pooled;
    im.run[C_CREATE_FRESH] = Generic<P>::create_fresh;
    im.run[C_CHAIN] = Generic<P>::chain;
    im.run[C_MUTEX] = Generic<P>::handoff;
    im.run[C_MIGRATE] = Generic<P>::migrate;
    im.mem = Generic<P>::memory;
    return im;
}

__attribute__((unused)) Impl absent(const char *key, const char *what,
                                    const char *missing)
{
    Impl im = Impl();
    im.key = key;
    im.what = what;
    im.missing = missing;
    return im;
}

std::vector<Impl> implementations()
{
    std::vector<Impl> v;
    Impl im = Impl();

    im.key = std::string("libcoop/") + coop_backend();
    im.what = "coop_enter/coop_yield, coop_wake, coop_mutex";
    im.run[C_RT] = Libcoop::rt;
    im.run[C_RT_DEEP] = Libcoop::rt_deep;
    im.run[C_RT_FLAGS] = Libcoop::rt_flags;
    im.run[C_CREATE_POOLED] = Libcoop::create_pooled;
    im.run[C_CREATE_FRESH] = Libcoop::create_fresh;
    im.run[C_CHAIN] = Libcoop::chain;
    im.run[C_MUTEX] = Libcoop::handoff;
    im.run[C_MIGRATE] = Libcoop::migrate;
    im.mem = Libcoop::memory;
    v.push_back(im);

#ifdef HAVE_BOOST_CONTEXT
    v.push_back(peer<Fcontext>("fcontext",
                               "Boost.Context make_fcontext/jump_fcontext"));
    v.push_back(peer<Fiber>("fiber", "boost::context::fiber resume()"));
#else
    v.push_back(absent("fcontext", "Boost.Context make_fcontext/jump_fcontext",
                       "Boost.Context was not found at configure time "
                       "(Debian: libboost-context-dev)"));
    v.push_back(absent("fiber", "boost::context::fiber resume()",
                       "Boost.Context was not found at configure time "
                       "(Debian: libboost-context-dev)"));
#endif
#ifdef HAVE_PCL
    im = peer<Pcl>("pcl", "PCL co_create/co_call/co_resume");
    im.run[C_MIGRATE] = nullptr;
    im.why_not[C_MIGRATE] =
        "PCL keeps per-thread state across its switch (co_resume reuses "
        "the thread context it looked up before switching): a coroutine "
        "cannot resume on another thread";
    v.push_back(im);
#else
    v.push_back(absent("pcl", "PCL co_create/co_call/co_resume",
                       "PCL was not found at configure time "
                       "(Debian: libpcl1-dev)"));
#endif
    v.push_back(peer<Swapcontext>("swapcontext",
                                  "glibc makecontext/swapcontext"));
    v.push_back(peer<Sjlj>("sigsetjmp",
                           "sigsetjmp(env, 0)/siglongjmp behind a call"));
    im = Impl();
    im.key = "sigsetjmp-inline";
    im.what = "the same jumps inline in the loop";
    im.run[C_RT] = SjInline::rt;
    im.run[C_RT_DEEP] = SjInline::rt_deep;
    im.run[C_RT_FLAGS] = SjInline::rt_flags;
    v.push_back(im);
#ifdef HAVE_RAW_ASM
    v.push_back(peer<RawAsm<RawPlain> >(
        "raw-asm", "push/pop + jmp, inlined: no call, no return"));
    im = peer<RawCall>("raw-asm-call", "the same behind a function call");
    im.mem = nullptr;
    v.push_back(im);
    im = peer<RawAsm<RawFpSave> >(
        "raw-asm-fpsave", "raw-asm + store/reload of the FP control registers");
    im.mem = nullptr;
    v.push_back(im);
    im = Impl();
    im.key = "raw-asm-noguard";
    im.what = "raw-asm on stacks without a guard region";
    im.mem = Generic<RawAsm<RawPlain> >::memory_noguard;
    v.push_back(im);
#else
    v.push_back(absent("raw-asm", "push/pop + jmp, inlined",
                       "written for x86-64, aarch64 and riscv64 only"));
#endif
    im = Impl();
    im.key = "handover";
    im.what = "two threads passing a turn, no coroutine";
    im.run[C_MIGRATE] = handover_migrate;
    v.push_back(im);

    if (!mig_possible)
        for (Impl &i : v)
            if (i.run[C_MIGRATE]) {
                i.run[C_MIGRATE] = nullptr;
                i.why_not[C_MIGRATE] = "fewer than two CPUs available";
            }
    return v;
}

/* ------------------------------------------------------------ driver */

struct Options {
    bool quick = false;
    int rounds = 11;
    double sample_ms = 10;
    std::vector<long> sizes;
    bool memory = true;
    bool timing = true;
    std::vector<std::string> impls; /* empty: all */
    const char *samples = nullptr;
    const char *only = nullptr;
    long iterations = 0;
    bool list = false;
};

[[noreturn]] void usage()
{
    fprintf(stderr,
            "usage: coop-compare [--quick] [--rounds N] [--sample-ms MS] "
            "[--sizes N,N,...]\n"
            "                    [--no-memory] [--memory-only] "
            "[--impls KEY,...] [--samples FILE] [--list]\n"
            "       coop-compare --only IMPL:CASE --iterations N\n");
    exit(2);
}

std::vector<std::string> split(const char *s)
{
    std::vector<std::string> v;
    std::string cur;
    for (; *s; s++)
        if (*s == ',') {
            if (!cur.empty())
                v.push_back(cur);
            cur.clear();
        } else
            cur += *s;
    if (!cur.empty())
        v.push_back(cur);
    return v;
}

bool wanted(const Options &o, const Impl &im)
{
    if (o.impls.empty())
        return true;
    for (const std::string &k : o.impls)
        if (k == im.key || (k == "libcoop" && im.key.compare(0, 8, "libcoop/") == 0))
            return true;
    return false;
}

struct Stats {
    double median, p25, p75, min, max;
};

Stats stats(std::vector<double> v)
{
    Stats s = Stats();
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    size_t k = v.size();
    s.median = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    s.p25 = v[(k - 1) / 4];
    s.p75 = v[(3 * (k - 1) + 3) / 4];
    s.min = v[0];
    s.max = v[k - 1];
    return s;
}

/* Deterministic shuffle (xorshift), different in every round. */
void shuffle(std::vector<std::pair<size_t, int> > &v, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
    for (size_t i = v.size(); i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::swap(v[i - 1], v[size_t(x % i)]);
    }
}

/* Run the case often enough that one sample lasts about target_ns. */
long calibrate(RunFn fn, double target_ns)
{
    long n = 16;
    fn(n); /* first use: sets up its coroutines */
    for (;;) {
        double per = fn(n);
        double took = per * double(n);
        if (took >= target_ns / 8 || n >= (1L << 30)) {
            double want = per > 0 ? target_ns / per : double(n);
            if (want < 16)
                want = 16;
            if (want > double(1L << 30))
                want = double(1L << 30);
            return long(want);
        }
        n *= 4;
    }
}

FILE *samples_file;

void record(const std::string &impl, const char *what, double value,
            const char *note = nullptr)
{
    if (!samples_file)
        return;
    fprintf(samples_file, "%s\t%s\t%.6g%s%s\n", impl.c_str(), what, value,
            note ? "\t" : "", note ? note : "");
}

/* Measure mem(n) in a forked child: a clean process image for each. */
bool memory_in_child(MemFn mem, long n, MemResult *out)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe");
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(fds[0]);
        MemResult r = mem(n);
        ssize_t w = write(fds[1], &r, sizeof(r));
        _exit(w == ssize_t(sizeof(r)) ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], out, sizeof(*out));
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (got != ssize_t(sizeof(*out))) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "  (child died of signal %d)\n", WTERMSIG(status));
        return false;
    }
    return true;
}

void run_memory(const Options &o, const std::vector<Impl> &impls)
{
    printf("\nlive coroutines: N created, each entered once and suspended in "
           "its first yield\n(a forked child per figure; 1 MiB stacks; "
           "vm.max_map_count ");
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long maxmap = -1;
    if (f) {
        if (fscanf(f, "%ld", &maxmap) != 1)
            maxmap = -1;
        fclose(f);
    }
    printf("%ld)\n", maxmap);
    printf("  %-22s %9s %9s %12s %11s %12s\n", "", "N", "made", "RSS KiB/co",
           "maps added", "create ns");
    for (long n : o.sizes)
        for (const Impl &im : impls) {
            if (!im.mem || im.missing || !wanted(o, im))
                continue;
            MemResult r;
            if (!memory_in_child(im.mem, n, &r)) {
                printf("  %-22s %9ld  (no result)\n", im.key.c_str(), n);
                continue;
            }
            printf("  %-22s %9ld %9ld %12.2f %11.0f %12.0f%s%s\n",
                   im.key.c_str(), n, r.made, r.rss_kib,
                   r.maps * double(r.made), r.create_ns,
                   r.err ? "  stopped: " : "", r.err ? strerror(r.err) : "");
            char what[64];
            snprintf(what, sizeof(what), "made@%ld", n);
            record(im.key, what, double(r.made),
                   r.err ? strerror(r.err) : nullptr);
            if (r.made > 0) {
                snprintf(what, sizeof(what), "rss-kib@%ld", n);
                record(im.key, what, r.rss_kib);
                snprintf(what, sizeof(what), "maps@%ld", n);
                record(im.key, what, r.maps);
                snprintf(what, sizeof(what), "create-live@%ld", n);
                record(im.key, what, r.create_ns);
            }
            fflush(stdout);
        }
}

void run_timing(const Options &o, const std::vector<Impl> &impls)
{
    std::vector<std::pair<size_t, int> > pairs;
    for (size_t i = 0; i < impls.size(); i++)
        for (int c = 0; c < NCASES; c++)
            if (impls[i].run[c] && !impls[i].missing && wanted(o, impls[i]))
                pairs.push_back(std::make_pair(i, c));

    double target = o.sample_ms * 1e6;
    std::vector<long> n(pairs.size());
    std::vector<std::vector<double> > ns(pairs.size());
    for (size_t p = 0; p < pairs.size(); p++)
        n[p] = calibrate(impls[pairs[p].first].run[pairs[p].second], target);

    std::vector<size_t> order(pairs.size());
    for (int r = 0; r < o.rounds; r++) {
        std::vector<std::pair<size_t, int> > todo;
        for (size_t p = 0; p < pairs.size(); p++)
            todo.push_back(std::make_pair(p, 0));
        shuffle(todo, uint64_t(r) + 1);
        for (auto &t : todo) {
            size_t p = t.first;
            const Impl &im = impls[pairs[p].first];
            int c = pairs[p].second;
            double v = im.run[c](n[p]);
            ns[p].push_back(v);
            record(im.key, case_key[c], v);
        }
    }

    printf("\nmedian ns over %d rounds [interquartile range] (min); "
           "samples of ~%.0f ms, shuffled\n",
           o.rounds, o.sample_ms);
    for (int c = 0; c < NCASES; c++) {
        bool any = false;
        for (size_t p = 0; p < pairs.size(); p++)
            if (pairs[p].second == c) {
                if (!any)
                    printf("\n%s\n", case_title[c]);
                any = true;
                Stats s = stats(ns[p]);
                printf("  %-22s %9.1f  [%.1f - %.1f]  (%.1f)\n",
                       impls[pairs[p].first].key.c_str(), s.median, s.p25,
                       s.p75, s.min);
            }
        for (const Impl &im : impls)
            if (!im.missing && !im.run[c] && im.why_not[c] && wanted(o, im))
                printf("  %-22s not measured: %s\n", im.key.c_str(),
                       im.why_not[c]);
    }
}

int run_only(const Options &o, const std::vector<Impl> &impls)
{
    std::string spec(o.only);
    size_t colon = spec.find(':');
    if (colon == std::string::npos || o.iterations <= 0)
        usage();
    std::string ik = spec.substr(0, colon), ck = spec.substr(colon + 1);
    for (const Impl &im : impls) {
        if (im.key != ik && !(ik == "libcoop" && im.key.compare(0, 8, "libcoop/") == 0))
            continue;
        for (int c = 0; c < NCASES; c++)
            if (ck == case_key[c]) {
                if (!im.run[c] || im.missing) {
                    fprintf(stderr, "coop-compare: %s does not run %s\n",
                            im.key.c_str(), case_key[c]);
                    return 1;
                }
                double v = im.run[c](o.iterations);
                printf("%s %s %ld iterations: %.1f ns each\n", im.key.c_str(),
                       case_key[c], o.iterations, v);
                return 0;
            }
    }
    fprintf(stderr, "coop-compare: no %s (see --list)\n", o.only);
    return 1;
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    const char *q = getenv("BENCH_QUICK");
    bool sizes_given = false, rounds_given = false, ms_given = false;

    o.quick = q && *q && strcmp(q, "0") != 0;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--quick")
            o.quick = true;
        else if (a == "--rounds" && val)
            o.rounds = atoi(argv[++i]), rounds_given = true;
        else if (a == "--sample-ms" && val)
            o.sample_ms = atof(argv[++i]), ms_given = true;
        else if (a == "--sizes" && val) {
            o.sizes.clear();
            for (const std::string &s : split(argv[++i]))
                o.sizes.push_back(atol(s.c_str()));
            sizes_given = true;
        } else if (a == "--no-memory")
            o.memory = false;
        else if (a == "--memory-only")
            o.timing = false;
        else if (a == "--impls" && val)
            o.impls = split(argv[++i]);
        else if (a == "--samples" && val)
            o.samples = argv[++i];
        else if (a == "--only" && val)
            o.only = argv[++i];
        else if (a == "--iterations" && val)
            o.iterations = atol(argv[++i]);
        else if (a == "--list")
            o.list = true;
        else
            usage();
    }
    if (o.quick) {
        if (!rounds_given)
            o.rounds = 3;
        if (!ms_given)
            o.sample_ms = 1;
        if (!sizes_given)
            o.sizes = {1000, 10000};
    } else if (!sizes_given)
        o.sizes = {10000, 100000, 1000000};
    if (o.rounds < 1)
        o.rounds = 1;

    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) >= 2) {
        int k = 0;
        for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
            if (CPU_ISSET(c, &set))
                mig.cpu[k++] = c;
        mig_possible = true;
    }
#ifdef HAVE_PCL
    co_thread_init();
#endif

    std::vector<Impl> impls = implementations();
    if (o.list) {
        for (const Impl &im : impls) {
            printf("%-20s %s%s%s\n", im.key.c_str(), im.what,
                   im.missing ? " -- absent: " : "",
                   im.missing ? im.missing : "");
            for (int c = 0; c < NCASES; c++)
                if (im.run[c])
                    printf("    %s:%s\n", im.key.c_str(), case_key[c]);
        }
        return 0;
    }
    if (o.only)
        return run_only(o, impls);

    if (o.samples) {
        samples_file = fopen(o.samples, "a");
        if (!samples_file)
            die(o.samples);
    }
    printf("coop-compare: libcoop %s, %s backend%s\n", coop_version(),
           coop_backend(), o.quick ? " (quick run)" : "");
    for (const Impl &im : impls)
        if (im.missing)
            printf("  skipped %s: %s\n", im.key.c_str(), im.missing);
    fflush(stdout);

    /* Memory first: the children fork from a process that has no
     * coroutines of its own yet. */
    if (o.memory && !o.sizes.empty())
        run_memory(o, impls);
    if (o.timing)
        run_timing(o, impls);
    if (samples_file)
        fclose(samples_file);
    return 0;
}
