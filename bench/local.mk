# SPDX-License-Identifier: MIT
# Benchmarks print figures; built by make, run by hand, never by make check.
noinst_PROGRAMS += bench/coop-bench
bench_coop_bench_SOURCES = bench/coop-bench.c
bench_coop_bench_CFLAGS = $(PTHREAD_CFLAGS)
bench_coop_bench_LDADD = libcoop.la $(PTHREAD_LIBS)
noinst_PROGRAMS += bench/coop-scale
bench_coop_scale_SOURCES = bench/coop-scale.c
bench_coop_scale_LDADD = libcoop.la
