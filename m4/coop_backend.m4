# SPDX-License-Identifier: MIT
#
# COOP_SELECT_BACKEND
# -------------------
# Handle --with-coroutine=auto|ucontext|sigaltstack|asm: check that the
# requested backend exists in this tree and works on the host, pick the best
# one for "auto", and set:
#   coop_backend            the chosen name (shell variable, for the summary)
#   COOP_BACKEND            the same, substituted into Makefiles
#   COOP_BACKEND_UCONTEXT / _SIGALTSTACK / _ASM   automake conditionals
#   COOP_BACKEND_<NAME>     defined in config.h
AC_DEFUN([COOP_SELECT_BACKEND], [
  AC_ARG_WITH([coroutine],
    [AS_HELP_STRING([--with-coroutine=NAME],
      [context switch backend: auto (default: asm where the CPU has one, else ucontext), ucontext, sigaltstack, asm])],
    [], [with_coroutine=auto])

  # Backends this tree implements; .ci/run reads this line for its matrix.
  coop_implemented="ucontext sigaltstack asm"

  AC_CHECK_HEADERS([ucontext.h valgrind/valgrind.h valgrind/memcheck.h])
  AC_CHECK_FUNCS([makecontext setcontext getcontext], [], [])
  AS_IF([test "x$ac_cv_header_ucontext_h$ac_cv_func_makecontext$ac_cv_func_setcontext$ac_cv_func_getcontext" = xyesyesyesyes],
        [coop_ucontext_usable=yes], [coop_ucontext_usable=no])

  AS_CASE([$host_cpu],
    [x86_64], [coop_asm_arch=x86_64],
    [aarch64], [coop_asm_arch=aarch64],
    [riscv64], [coop_asm_arch=riscv64],
    [coop_asm_arch=])

  # riscv64: the switch keeps the LP64D callee-saved set, and declares no
  # vector state clobbered (gcc 12 knows no vector registers to name), so
  # it is offered only for LP64D code without the V extension.
  AS_IF([test "x$coop_asm_arch" = xriscv64], [
    AC_CACHE_CHECK([whether the riscv64 asm switch fits this ABI (LP64D, no V)],
      [coop_cv_riscv64_asm_abi], [
      AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
#if !defined(__riscv_float_abi_double) || defined(__riscv_vector)
#error "not LP64D, or the vector extension is on"
#endif
]], [])], [coop_cv_riscv64_asm_abi=yes], [coop_cv_riscv64_asm_abi=no])])
    AS_IF([test "x$coop_cv_riscv64_asm_abi" != xyes], [coop_asm_arch=])])

  coop_backend=
  AS_CASE([$with_coroutine],
    [auto], [
      AS_IF([test -n "$coop_asm_arch" && echo " $coop_implemented " | grep -q ' asm '],
              [coop_backend=asm],
            [test "x$coop_ucontext_usable" = xyes],
              [coop_backend=ucontext],
            [echo " $coop_implemented " | grep -q ' sigaltstack '],
              [coop_backend=sigaltstack],
            [AC_MSG_ERROR([no coroutine backend works on $host: the C library lacks makecontext/setcontext])])],
    [ucontext|sigaltstack|asm], [
      AS_IF([echo " $coop_implemented " | grep -q " $with_coroutine "], [],
            [AC_MSG_ERROR([the '$with_coroutine' coroutine backend is not available in this version of libcoop (available: $coop_implemented)])])
      coop_backend=$with_coroutine],
    [AC_MSG_ERROR([unknown coroutine backend '$with_coroutine' (choose auto, ucontext, sigaltstack or asm)])])

  AS_CASE([$coop_backend],
    [ucontext], [
      AS_IF([test "x$coop_ucontext_usable" != xyes],
            [AC_MSG_ERROR([the ucontext backend needs makecontext, setcontext and getcontext, which this C library lacks (musl has none); use --with-coroutine=sigaltstack${coop_asm_arch:+ or --with-coroutine=asm}, or leave --with-coroutine out (auto)])])],
    [asm], [
      AS_IF([test -z "$coop_asm_arch"],
            [AC_MSG_ERROR([the asm backend supports x86_64, aarch64 and riscv64 (LP64D without the vector extension), not this $host_cpu target])])])

  AC_MSG_CHECKING([for the coroutine backend])
  AC_MSG_RESULT([$coop_backend])

  AS_CASE([$coop_backend],
    [ucontext],    [AC_DEFINE([COOP_BACKEND_UCONTEXT], [1], [Switch with makecontext + sigsetjmp/siglongjmp])],
    [sigaltstack], [AC_DEFINE([COOP_BACKEND_SIGALTSTACK], [1], [Create contexts with the signal-stack trick])],
    [asm],         [AC_DEFINE([COOP_BACKEND_ASM], [1], [Hand-written assembly switch])])

  AC_SUBST([COOP_BACKEND], [$coop_backend])
  AM_CONDITIONAL([COOP_BACKEND_UCONTEXT], [test "x$coop_backend" = xucontext])
  AM_CONDITIONAL([COOP_BACKEND_SIGALTSTACK], [test "x$coop_backend" = xsigaltstack])
  AM_CONDITIONAL([COOP_BACKEND_ASM], [test "x$coop_backend" = xasm])
])
