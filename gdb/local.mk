# SPDX-License-Identifier: MIT
# The gdb extension (coop list, coop bt): included by the top-level
# Makefile.am (paths from the top).
#
# gdb auto-loads OBJFILE-gdb.py from $(datadir)/gdb/auto-load followed by
# the object file's real path, so the script is installed as
# $(datadir)/gdb/auto-load$(libdir)/libcoop.so.X.Y.Z-gdb.py, as Debian's
# libstdc++6 does.  gdb only looks in its own data directory (and in
# "set auto-load scripts-directory"): with --prefix=/usr that is where the
# script lands; with another prefix, add $(datadir)/gdb/auto-load to
# gdb's auto-load scripts-directory and safe-path.

# The library's real file name: libtool makes it
# libcoop.so.(current-age).(age).(revision) from COOP_LT_VERSION in
# configure.ac.  The rule below stops the build if they disagree.  README
# and coop(7) name the installed script: change them with it.
COOP_GDB_LIBFILE = libcoop.so.0.1.0

gdbautoloaddir = $(datadir)/gdb/auto-load$(libdir)
gdbautoload_DATA = gdb/$(COOP_GDB_LIBFILE)-gdb.py

gdb/$(COOP_GDB_LIBFILE)-gdb.py: $(top_srcdir)/gdb/libcoop-gdb.py libcoop.la
	$(AM_V_GEN)real=`sed -n "s/^library_names='\([^ ']*\).*/\1/p" libcoop.la`; \
	if test "x$$real" != "x$(COOP_GDB_LIBFILE)"; then \
	    echo "gdb/local.mk: libtool names the library $$real: set COOP_GDB_LIBFILE to it" >&2; \
	    exit 1; \
	fi; \
	$(MKDIR_P) gdb && cp $(top_srcdir)/gdb/libcoop-gdb.py $@

check_PROGRAMS += tests/gdb-target
tests_gdb_target_SOURCES = tests/gdb-target.c
tests_gdb_target_CPPFLAGS = -I$(top_srcdir)/include
tests_gdb_target_CFLAGS = $(PTHREAD_CFLAGS) $(WARN_CFLAGS)
tests_gdb_target_LDADD = libcoop.la $(PTHREAD_LIBS)
# a real executable, not a libtool wrapper script, for gdb to run
tests_gdb_target_LDFLAGS = -no-install

TESTS += tests/check-gdb.sh
EXTRA_DIST += gdb/libcoop-gdb.py tests/check-gdb.sh
CLEANFILES += gdb/$(COOP_GDB_LIBFILE)-gdb.py
