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
	tests/test-tls.c
tests_coop_test_CPPFLAGS = -I$(top_srcdir)/include $(AM_CPPFLAGS)
# the C++ suite, where $(CXX) builds against the C library of $(CC)
# (configure.ac); the runner adds it when COOP_TEST_CXX is defined
# (automake would link with $(CXX) whenever a C++ source is listed, even
# conditionally: without the C++ suite it links with $(CC))
if HAVE_CXX
tests_coop_test_SOURCES += tests/test-cxx.cc
tests_coop_test_CPPFLAGS += -DCOOP_TEST_CXX
tests_coop_test_LINK = $(LIBTOOL) $(AM_V_lt) --tag=CXX $(AM_LIBTOOLFLAGS) \
	$(LIBTOOLFLAGS) --mode=link $(CXXLD) $(tests_coop_test_CXXFLAGS) \
	$(CXXFLAGS) $(tests_coop_test_LDFLAGS) $(LDFLAGS) -o $@
else
tests_coop_test_LINK = $(LIBTOOL) $(AM_V_lt) --tag=CC $(AM_LIBTOOLFLAGS) \
	$(LIBTOOLFLAGS) --mode=link $(CCLD) $(tests_coop_test_CFLAGS) \
	$(CFLAGS) $(tests_coop_test_LDFLAGS) $(LDFLAGS) -o $@
endif
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
