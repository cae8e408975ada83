# SPDX-License-Identifier: MIT
# Benchmarks print figures; built by make, run by `make bench` (or by hand),
# never by make check.  `make bench BENCH_QUICK=1` (or BENCH_QUICK=1 in the
# environment) is a short smoke run.  bench/compare-all.sh builds every
# backend and writes the comparison table and plot of doc/performance.md.
#
# Real executables (-no-install), not libtool wrappers: they run under
# valgrind and qemu-user as they are.
noinst_PROGRAMS += bench/coop-bench
bench_coop_bench_SOURCES = bench/coop-bench.c
bench_coop_bench_CFLAGS = $(PTHREAD_CFLAGS)
bench_coop_bench_LDADD = libcoop.la $(PTHREAD_LIBS)
bench_coop_bench_LDFLAGS = -no-install

noinst_PROGRAMS += bench/coop-scale
bench_coop_scale_SOURCES = bench/coop-scale.c
bench_coop_scale_LDADD = libcoop.la
bench_coop_scale_LDFLAGS = -no-install

# libcoop next to Boost.Context, PCL, swapcontext, sigsetjmp and a raw asm
# switch; the peers configure found (m4/coop_peers.m4) are linked in, the
# others are skipped with a message.  C++: built where $(CXX) builds against
# the C library of $(CC) (configure.ac).
if HAVE_CXX
BENCH_COMPARE = bench/coop-compare$(EXEEXT)
noinst_PROGRAMS += bench/coop-compare
endif
bench_coop_compare_SOURCES = bench/coop-compare.cc
bench_coop_compare_CXXFLAGS = $(PTHREAD_CFLAGS) -Wall -Wextra
bench_coop_compare_LDADD = libcoop.la $(BOOST_CONTEXT_LIBS) $(PCL_LIBS) \
	$(PTHREAD_LIBS) -lm
bench_coop_compare_LDFLAGS = -no-install

# The loops (coop-loop.h): cross-thread coop_schedule against eventfd, and
# a million sleepers against a plain timer heap.
noinst_PROGRAMS += bench/loop-bench
bench_loop_bench_SOURCES = bench/loop-bench.c bench/bench-stats.h
bench_loop_bench_CFLAGS = $(PTHREAD_CFLAGS)
bench_loop_bench_LDADD = libcoop.la $(PTHREAD_LIBS)
bench_loop_bench_LDFLAGS = -no-install

# The locks: uncontended, same-thread hand-off, and two threads contending
# (against pthread_mutex_t).
noinst_PROGRAMS += bench/lock-bench
bench_lock_bench_SOURCES = bench/lock-bench.c bench/bench-stats.h
bench_lock_bench_CFLAGS = $(PTHREAD_CFLAGS)
bench_lock_bench_LDADD = libcoop.la $(PTHREAD_LIBS)
bench_lock_bench_LDFLAGS = -no-install

EXTRA_DIST += bench/compare-all.sh bench/qemu-insns.sh

# The HTTP keep-alive comparison (libcoop, epoll, libuv, State Threads):
# bench/http/run.sh builds its servers itself, with wrk as the client.
EXTRA_DIST += bench/http/run.sh bench/http/http-common.h bench/http/http-coop.c \
	bench/http/http-epoll.c bench/http/http-libuv.c bench/http/http-st.c \
	bench/http/idle-clients.c

.PHONY: bench
bench: bench/coop-bench$(EXEEXT) bench/coop-scale$(EXEEXT) $(BENCH_COMPARE) \
	bench/loop-bench$(EXEEXT) bench/lock-bench$(EXEEXT)
	@set -e; \
	if test -n "$(BENCH_QUICK)" && test "$(BENCH_QUICK)" != 0; then \
	    iterations=20000; live=10000; flags=--quick; \
	else \
	    iterations=2000000; live=1000000; flags=; \
	fi; \
	echo "=== bench/coop-bench $$iterations"; \
	$(TEST_EMULATOR) bench/coop-bench$(EXEEXT) $$iterations; \
	echo; echo "=== bench/coop-scale $$live"; \
	$(TEST_EMULATOR) bench/coop-scale$(EXEEXT) $$live; \
	echo; echo "=== bench/coop-compare $$flags"; \
	if test -n "$(BENCH_COMPARE)"; then \
	    $(TEST_EMULATOR) bench/coop-compare$(EXEEXT) $$flags; \
	else \
	    echo "not built: no C++ compiler for this C library (see configure)"; \
	fi; \
	echo; echo "=== bench/loop-bench $$flags"; \
	$(TEST_EMULATOR) bench/loop-bench$(EXEEXT) $$flags; \
	echo; echo "=== bench/lock-bench $$flags"; \
	$(TEST_EMULATOR) bench/lock-bench$(EXEEXT) $$flags
