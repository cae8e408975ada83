# SPDX-License-Identifier: MIT
# Packaging checks, included by the top-level Makefile.am.
#
# make installcheck: build examples/generator.c and a C++ program against
# the installed library with pkg-config, and run them (tests/installcheck.sh).
# Works with DESTDIR, and inside make distcheck.

EXTRA_DIST += tests/installcheck.sh

installcheck-local:
	$(AM_V_at)DESTDIR='$(DESTDIR)' libdir='$(libdir)' mandir='$(mandir)' \
	top_srcdir='$(top_srcdir)' PKG_CONFIG='$(PKG_CONFIG)' \
	CC='$(CC)' CXX='$(CXX)' CXX_USABLE='$(COOP_CXX_USABLE)' \
	TEST_EMULATOR='$(TEST_EMULATOR)' \
	$(SHELL) '$(top_srcdir)/tests/installcheck.sh'
