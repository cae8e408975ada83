#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The public headers must stand alone: compile a translation unit that
# includes only <coop.h>, and one that includes only <coop-loop.h>, as
# strict C99 and as strict C++11.
# Environment (from the test harness): CC, CXX, top_srcdir, top_builddir.
# Exit 77 (skip) when there is no C++ compiler.

: "${CC:=cc}"
: "${top_srcdir:=.}"
: "${top_builddir:=.}"

# The translation units live in the build tree (CLEANFILES lists them in
# case this script is interrupted).
tu="$top_builddir/tests/check-header-tu"
mkdir -p "$top_builddir/tests" || exit 99
trap 'rm -f "$tu.c" "$tu.cc" "$tu-loop.c" "$tu-loop.cc"' EXIT

# Included twice: the include guard must hold.  The function uses a few
# declarations so that a broken prototype shows up; in C++ a redeclaration
# with C linkage conflicts unless the header gave C linkage itself.
cat > "$tu.c" <<'TU'
#include <coop.h>
#include <coop.h>

#ifdef __cplusplus
extern "C" coop_t *coop_self(void);
extern "C" void coop_enter(coop_t *co);
#endif

/* The thread-local macros, each kind, with the semicolon after them. */
struct coop_header_pair { int a; long b; };
COOP_TLS_DECLARE(int, coop_header_tls);
COOP_TLS_DEFINE(int, coop_header_tls);
COOP_TLS_DEFINE_STATIC(struct coop_header_pair, coop_header_pair);
COOP_TLS_DEFINE_STATIC(char *, coop_header_unused);

int coop_header_check(void);
int coop_header_check(void)
{
    coop_attr_t attr;
    coop_fn fn = 0;

    coop_attr_init(&attr);
    set_coop_header_tls(get_coop_header_tls() + *get_ptr_coop_header_tls());
    return fn == 0 && coop_self() != 0 && !coop_in_coroutine()
           && get_coop_header_pair().a == get_ptr_coop_header_pair()->a
           && COOP_VERSION_MAJOR + COOP_VERSION_MINOR + COOP_VERSION_PATCH >= 0;
}
TU
cp "$tu.c" "$tu.cc" || exit 99
cat > "$tu-loop.c" <<'TU'
#include <coop-loop.h>
#include <coop-loop.h>

int coop_loop_header_check(void);
int coop_loop_header_check(void)
{
    ssize_t (*rd)(int, void *, size_t, int64_t) = coop_read;
    int (*ac)(int, struct sockaddr *, socklen_t *, int64_t) = coop_accept;

    return rd != 0 && ac != 0 && coop_loop_self() != 0 && coop_self() != 0;
}
TU
cp "$tu-loop.c" "$tu-loop.cc" || exit 99

echo "C:   $CC -std=c99 -Wall -Wextra -pedantic -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Werror -fsyntax-only"
for f in "$tu.c" "$tu-loop.c"; do
    $CC -std=c99 -Wall -Wextra -pedantic -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Werror -fsyntax-only \
        -I"$top_srcdir/include" "$f" || exit 1
done

cxx=${CXX%% *}
if test -z "$cxx" || ! command -v "$cxx" >/dev/null 2>&1; then
    echo "no C++ compiler (CXX='${CXX-}'): C++ check skipped"
    exit 77
fi
echo "C++: $CXX -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only"
for f in "$tu.cc" "$tu-loop.cc"; do
    $CXX -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only \
        -I"$top_srcdir/include" "$f" || exit 1
done
exit 0
