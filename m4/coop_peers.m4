# SPDX-License-Identifier: MIT
#
# COOP_CHECK_PEERS
# ----------------
# Look for the coroutine libraries that bench/coop-compare measures libcoop
# against.  Each one is optional: when it is missing, configure says so and
# the benchmark skips it with a message.  --without-bench-peers skips the
# search.  Sets:
#   HAVE_BOOST_CONTEXT, HAVE_PCL   config.h defines and automake conditionals
#   BOOST_CONTEXT_LIBS, PCL_LIBS   what to link with (substituted)
#   coop_bench_peers               what was found (shell variable, for the
#                                  configure summary)
# Boost.Context is C++: it is checked with the C++ compiler, so call this
# after AC_PROG_CXX.
AC_DEFUN([COOP_CHECK_PEERS], [
  AC_ARG_WITH([bench-peers],
    [AS_HELP_STRING([--without-bench-peers],
      [do not look for Boost.Context and PCL, which bench/coop-compare compares libcoop with])],
    [], [with_bench_peers=auto])

  BOOST_CONTEXT_LIBS=
  PCL_LIBS=
  coop_have_boost_context=no
  coop_have_pcl=no

  AS_IF([test "x$with_bench_peers" != xno], [
    AC_LANG_PUSH([C++])
    AC_CACHE_CHECK([for Boost.Context fcontext and fiber], [coop_cv_boost_context], [
      coop_save_LIBS=$LIBS
      LIBS="-lboost_context $LIBS"
      AC_LINK_IFELSE([AC_LANG_PROGRAM([[
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
static void entry(boost::context::detail::transfer_t) {}
]], [[
  static char stack[65536];
  boost::context::detail::fcontext_t f =
      boost::context::detail::make_fcontext(stack + sizeof stack, sizeof stack, entry);
  return f == 0;
]])], [coop_cv_boost_context=yes], [coop_cv_boost_context=no])
      LIBS=$coop_save_LIBS])
    AC_LANG_POP([C++])
    AS_IF([test "x$coop_cv_boost_context" = xyes], [
      coop_have_boost_context=yes
      BOOST_CONTEXT_LIBS=-lboost_context
      AC_DEFINE([HAVE_BOOST_CONTEXT], [1],
                [Boost.Context (fcontext, fiber) is there for bench/coop-compare])
    ], [AC_MSG_NOTICE([Boost.Context not found: bench/coop-compare will skip fcontext and fiber (Debian: libboost-context-dev)])])

    AC_LANG_PUSH([C])
    AC_CHECK_HEADER([pcl.h], [
      AC_CHECK_LIB([pcl], [co_create], [coop_have_pcl=yes])])
    AC_LANG_POP([C])
    AS_IF([test "x$coop_have_pcl" = xyes], [
      PCL_LIBS=-lpcl
      AC_DEFINE([HAVE_PCL], [1],
                [PCL (the Portable Coroutine Library) is there for bench/coop-compare])
    ], [AC_MSG_NOTICE([PCL not found: bench/coop-compare will skip it (Debian: libpcl1-dev)])])
  ])

  coop_bench_peers=
  AS_IF([test "x$coop_have_boost_context" = xyes],
        [coop_bench_peers="$coop_bench_peers fcontext fiber"])
  AS_IF([test "x$coop_have_pcl" = xyes],
        [coop_bench_peers="$coop_bench_peers pcl"])
  coop_bench_peers="${coop_bench_peers# }"
  test -n "$coop_bench_peers" || coop_bench_peers="none (install libboost-context-dev, libpcl1-dev)"

  AC_SUBST([BOOST_CONTEXT_LIBS])
  AC_SUBST([PCL_LIBS])
  AM_CONDITIONAL([HAVE_BOOST_CONTEXT], [test "x$coop_have_boost_context" = xyes])
  AM_CONDITIONAL([HAVE_PCL], [test "x$coop_have_pcl" = xyes])
])
