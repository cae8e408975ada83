# SPDX-License-Identifier: MIT
# Test suite: included by the top-level Makefile.am (paths from the top).

check_PROGRAMS += tests/coop-test

tests_coop_test_SOURCES = \
	tests/suites.h \
	tests/helpers.c \
	tests/test-runner.c \
	tests/test-lifecycle.c \
	tests/test-wake.c \
	tests/test-misuse.c \
	tests/test-pool.c \
	tests/test-threads.c \
	tests/test-machine.c \
	tests/test-attr.c \
	tests/test-sync.c \
	tests/test-stack.c \
	tests/test-sigaltstack.c \
	tests/test-loop.c \
	tests/test-xsync.c \
	tests/test-state.c \
	tests/test-tls.c \
	tests/test-cxx.cc
tests_coop_test_CPPFLAGS = -I$(top_srcdir)/include $(AM_CPPFLAGS)
tests_coop_test_CFLAGS = $(CHECK_CFLAGS) $(PTHREAD_CFLAGS) $(WARN_CFLAGS) $(UNWIND_CFLAGS)
tests_coop_test_CXXFLAGS = $(CHECK_CFLAGS) $(PTHREAD_CFLAGS)
tests_coop_test_LDADD = libcoop.la $(CHECK_LIBS) $(PTHREAD_LIBS) -lm
# a real executable, not a libtool wrapper: it can run under qemu-user and
# re-execute itself through /proc/self/exe
tests_coop_test_LDFLAGS = -no-install

TESTS += tests/coop-test tests/check-header.sh tests/check-elf-notes.sh \
	tests/check-exports.sh

EXTRA_DIST += tests/check-header.sh tests/check-elf-notes.sh \
	tests/check-exports.sh tests/exported-symbols.txt

# written and removed by check-header.sh; here in case it is interrupted
CLEANFILES += tests/check-header-tu.c tests/check-header-tu.cc \
	tests/check-header-tu-loop.c tests/check-header-tu-loop.cc
