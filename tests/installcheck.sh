#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build programs against an INSTALLED libcoop the way its users do, with
# `pkg-config --cflags --libs coop`, and run them:
#   - examples/generator.c, dynamically linked (the shared library must be
#     the installed one);
#   - a C++ translation unit that includes <coop.h> and runs a coroutine;
#   - generator.c again with libcoop.a linked in statically, through
#     `pkg-config --static` (Libs.private must be enough), when the static
#     library is installed.
# It also checks that the header, the pkg-config file and the manual pages
# are where the pkg-config file says.
#
# Run by `make installcheck` (packaging.mk) and by .ci/packaging against the
# Debian packages.  Environment:
#   libdir         where libcoop is installed (required), e.g. /usr/local/lib
#   DESTDIR        staging root the installation went to (may be empty)
#   mandir         where the manual pages went (optional: not checked if unset)
#   top_srcdir     source tree, for examples/generator.c (default: .)
#   PKG_CONFIG, CC, CXX, TEST_EMULATOR   as configure found them
#   CXX_USABLE     "no" when configure found that CXX does not build
#                  against the C library of CC (musl-gcc): no C++ check
# Exit status: 0 pass, 1 fail, 99 hard error.

: "${top_srcdir:=.}"
: "${PKG_CONFIG:=pkg-config}"
: "${CC:=cc}"
: "${CXX:=c++}"
if test -z "${libdir-}"; then
    echo "installcheck.sh: set libdir (the installed library directory)" >&2
    exit 99
fi

status=0
fail() { echo "FAIL: $*"; status=1; }
run() { echo "+ $*"; "$@"; }

root=${DESTDIR-}
root=${root%/}
inst_libdir="$root$libdir"
pcdir="$inst_libdir/pkgconfig"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coop-installcheck.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# -------------------------------------------------------------- pkg-config
# Our directory first; under a staging root, the sysroot variable makes
# pkg-config prefix the -I/-L paths with it.
PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
if test -n "$root"; then
    PKG_CONFIG_SYSROOT_DIR=$root
    export PKG_CONFIG_SYSROOT_DIR
fi
if ! test -f "$pcdir/coop.pc"; then
    echo "FAIL: no coop.pc in $pcdir"
    exit 1
fi
if ! $PKG_CONFIG --exists --print-errors coop; then
    echo "FAIL: $PKG_CONFIG does not find coop"
    exit 1
fi
found=$($PKG_CONFIG --variable=pcfiledir coop)
# pkg-config reports pcfiledir with the sysroot already in it, or not,
# depending on its version: compare with and without.
case "$found" in
"$pcdir" | "${pcdir#"$root"}" | "$root$pcdir") ;;
*) fail "pkg-config found coop.pc in $found, not in $pcdir (another libcoop is installed?)" ;;
esac
cflags=$($PKG_CONFIG --cflags coop) || fail "pkg-config --cflags coop"
libs=$($PKG_CONFIG --libs coop) || fail "pkg-config --libs coop"
static_libs=$($PKG_CONFIG --static --libs coop) || fail "pkg-config --static --libs coop"
echo "coop $($PKG_CONFIG --modversion coop): cflags '$cflags' libs '$libs' static '$static_libs'"

includedir=$($PKG_CONFIG --variable=includedir coop)
test -f "$root${includedir#"$root"}/coop.h" || fail "coop.h is not in $includedir"

# The installed library only: LD_LIBRARY_PATH for the staging root, and no
# fallback to the build tree.
LD_LIBRARY_PATH="$inst_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH

# ------------------------------------------------------- generator (C, .so)
# shellcheck disable=SC2086 # flags are meant to split
if run $CC -o "$tmp/generator" "$top_srcdir/examples/generator.c" $cflags $libs; then
    if $TEST_EMULATOR "$tmp/generator" > "$tmp/generator.out" 2>&1; then
        cat "$tmp/generator.out"
        grep -q ' 987$' "$tmp/generator.out" \
            || fail "generator printed something else than Fibonacci numbers up to 987"
    else
        cat "$tmp/generator.out"
        fail "generator (dynamic) failed"
    fi
    # Which libcoop.so.0 did it load?  (The dynamic loader can tell when we
    # run natively: glibc's through LD_TRACE_LOADED_OBJECTS; others, musl's,
    # run as the program's interpreter with --list.)
    if test -z "${TEST_EMULATOR-}"; then
        trace='s/^[[:space:]]*libcoop\.so\.0 => \([^ ]*\).*/\1/p'
        loaded=$(LD_TRACE_LOADED_OBJECTS=1 "$tmp/generator" 2>/dev/null | sed -n "$trace")
        if test -z "$loaded"; then
            interp=$(readelf -l "$tmp/generator" 2>/dev/null |
                     sed -n 's/.*program interpreter: \([^]]*\)].*/\1/p')
            if test -n "$interp"; then
                loaded=$("$interp" --list "$tmp/generator" 2>/dev/null | sed -n "$trace")
            fi
        fi
        loaded_dir=$(cd "$(dirname "$loaded")" 2>/dev/null && pwd -P)
        want_dir=$(cd "$inst_libdir" 2>/dev/null && pwd -P)
        if test -z "$loaded" || test "$loaded_dir" != "$want_dir"; then
            fail "generator loaded libcoop.so.0 from '$loaded', not from $inst_libdir"
        else
            echo "loaded $loaded"
        fi
    fi
else
    fail "generator.c does not build against the installed library"
fi

# ------------------------------------------------------------- C++ program
cat > "$tmp/cxx.cc" <<'EOF'
// A C++ program using the installed <coop.h>.
#include <coop.h>
#include <cstdio>
#include <string>

namespace {
struct state {
    std::string log;
};

void body(void *opaque)
{
    state *s = static_cast<state *>(opaque);
    s->log += "a";
    coop_yield();
    try {
        throw std::string("b");
    } catch (const std::string &e) {
        s->log += e;
    }
}
} // namespace

int main()
{
    state s;
    coop_attr_t attr;
    coop_attr_init(&attr);
    attr.name = "from C++";
    coop_t *co = coop_create_attr(&attr, body, &s);
    if (!co)
        return 1;
    coop_enter(co);
    if (std::string(coop_name(co)) != "from C++")
        return 2;
    coop_enter(co);
    std::printf("C++: %s, libcoop %s (%s)\n", s.log.c_str(), coop_version(),
                coop_backend());
    return s.log == "ab" ? 0 : 3;
}
EOF
if test "${CXX_USABLE-}" = no; then
    echo "$CXX does not build against the C library of $CC: C++ check skipped"
elif command -v "${CXX%% *}" >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    if run $CXX -std=c++11 -Wall -Wextra -pedantic -Werror -o "$tmp/cxx" "$tmp/cxx.cc" $cflags $libs; then
        $TEST_EMULATOR "$tmp/cxx" || fail "the C++ program failed"
    else
        fail "a C++ program does not build against the installed header and library"
    fi
else
    echo "no C++ compiler (CXX='$CXX'): C++ check skipped"
fi

# ------------------------------------------------- generator (C, static .a)
if test -f "$inst_libdir/libcoop.a"; then
    # libcoop from the archive, the C library still shared.
    static_libs=$(echo " $static_libs " | sed 's/ -lcoop / -Wl,-Bstatic -lcoop -Wl,-Bdynamic /')
    # shellcheck disable=SC2086
    if run $CC -o "$tmp/generator-static" "$top_srcdir/examples/generator.c" $cflags $static_libs; then
        if env -u LD_LIBRARY_PATH $TEST_EMULATOR "$tmp/generator-static" > "$tmp/static.out" 2>&1; then
            grep -q ' 987$' "$tmp/static.out" || fail "generator (static) printed something else"
        else
            cat "$tmp/static.out"
            fail "generator (static) failed"
        fi
    else
        fail "generator.c does not link statically with pkg-config --static"
    fi
else
    echo "no $inst_libdir/libcoop.a: static link not checked"
fi

# ------------------------------------------------------------ manual pages
if test -n "${mandir-}"; then
    for page in man3/coop_create.3 man3/coop_yield.3 man7/coop.7; do
        ls "$root$mandir/$page"* >/dev/null 2>&1 || fail "$mandir/$page is not installed"
    done
fi

test "$status" -eq 0 && echo "PASS: programs build and run against the installed libcoop"
exit "$status"
