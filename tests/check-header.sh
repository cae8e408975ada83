#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The public header must stand alone: compile a translation unit that
# includes only <coop.h> as strict C99 and as strict C++11.
# Environment (from the test harness): CC, CXX, top_srcdir, top_builddir.
# Exit 77 (skip) when there is no C++ compiler.

: "${CC:=cc}"
: "${top_srcdir:=.}"
: "${top_builddir:=.}"

# The translation units live in the build tree (CLEANFILES lists them in
# case this script is interrupted).
tu="$top_builddir/tests/check-header-tu"
mkdir -p "$top_builddir/tests" || exit 99
trap 'rm -f "$tu.c" "$tu.cc"' EXIT

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

int coop_header_check(void);
int coop_header_check(void)
{
    coop_attr_t attr;
    coop_fn fn = 0;

    coop_attr_init(&attr);
    return fn == 0 && coop_self() != 0 && !coop_in_coroutine()
           && COOP_VERSION_MAJOR + COOP_VERSION_MINOR + COOP_VERSION_PATCH >= 0;
}
TU
cp "$tu.c" "$tu.cc" || exit 99

echo "C:   $CC -std=c99 -Wall -Wextra -pedantic -Wstrict-prototypes -Werror -fsyntax-only"
$CC -std=c99 -Wall -Wextra -pedantic -Wstrict-prototypes -Werror -fsyntax-only \
    -I"$top_srcdir/include" "$tu.c" || exit 1

cxx=${CXX%% *}
if test -z "$cxx" || ! command -v "$cxx" >/dev/null 2>&1; then
    echo "no C++ compiler (CXX='${CXX-}'): C++ check skipped"
    exit 77
fi
echo "C++: $CXX -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only"
$CXX -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only \
    -I"$top_srcdir/include" "$tu.cc" || exit 1
exit 0
