#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The ABI of libcoop.so is what its dynamic symbol table says.  Check that
#   1. every defined dynamic symbol is part of the API: a function declared
#      COOP_API in include/coop.h, or coop__debug (the debugger registry, the
#      one deliberate export outside the API);
#   2. every COOP_API function is exported, as a function;
#   3. the exported set, names and versions, is exactly the checked-in list
#      tests/exported-symbols.txt, so that an ABI change is always a
#      deliberate edit of that list (and of debian/libcoop0.symbols, and of
#      COOP_LT_VERSION in configure.ac);
#   4. when debian/libcoop0.symbols is there, it lists the same symbols;
#   5. the soname is the one in that list.
# Environment (from the test harness): top_srcdir, top_builddir; READELF
# may name another readelf.  Exit 77 (skip) without a shared library or
# without readelf.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
: "${READELF:=readelf}"

lib="$top_builddir/.libs/libcoop.so"
headers="$top_srcdir/include/coop.h $top_srcdir/include/coop-loop.h"
expected="$top_srcdir/tests/exported-symbols.txt"
symbols="$top_srcdir/debian/libcoop0.symbols"
extra_api="coop__debug"

if ! test -f "$lib"; then
    echo "no $lib (built with --disable-shared?): skipped"
    exit 77
fi
if ! command -v "$READELF" >/dev/null 2>&1; then
    echo "no readelf ('$READELF'): skipped"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-exports.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C

# Version definitions of the library itself (not the base one, which is the
# soname): GNU ld emits each as an absolute symbol of that name, which is a
# marker, not an export.
"$READELF" -V -W "$lib" > "$tmp/versions" || exit 99
awk '/^Version definition section/ { on = 1; next }
     /^Version (needs|symbols) section/ { on = 0 }
     on && /Name:/ && !/BASE/ { sub(/.*Name: */, ""); print $1 }' \
    "$tmp/versions" | sort -u > "$tmp/vernodes"

# Defined dynamic symbols as "TYPE NAME[@@VERSION]".  readelf --dyn-syms -W
# columns: Num: Value Size Type Bind Vis Ndx Name [(version index)].
"$READELF" --dyn-syms -W "$lib" > "$tmp/dynsym" || exit 99
awk '$1 ~ /^[0-9]+:$/ && NF >= 8 && $5 != "LOCAL" && $7 != "UND" {
         print $4, $8 }' "$tmp/dynsym" > "$tmp/defined.raw"
if ! test -s "$tmp/defined.raw"; then
    echo "FAIL: no defined dynamic symbol in $lib"
    exit 1
fi
# Drop the version-node markers (ABS symbols named like a version node).
awk 'FILENAME == ARGV[1] { node[$1] = 1; next }
     !($2 in node) { print }' "$tmp/vernodes" "$tmp/defined.raw" \
    | sort -k2 > "$tmp/defined"
cut -d' ' -f2 "$tmp/defined" > "$tmp/exported"
sed 's/@.*//' "$tmp/exported" | sort -u > "$tmp/names"

# The API: every function declared COOP_API in the header.  Declarations
# start a line with COOP_API and name the function before the first '('.
# shellcheck disable=SC2086 # two words on purpose
sed -n 's/^COOP_API[^(]*[ *]\(coop_[A-Za-z0-9_]*\)(.*/\1/p' $headers \
    | sort -u > "$tmp/api-functions"
if ! test -s "$tmp/api-functions"; then
    echo "FAIL: found no COOP_API declaration in $headers"
    exit 1
fi
{ cat "$tmp/api-functions"; for s in $extra_api; do echo "$s"; done; } \
    | sort -u > "$tmp/api"

status=0
echo "$(wc -l < "$tmp/names") symbols exported by $lib, $(wc -l < "$tmp/api-functions") functions in the API"

# 1. Nothing outside the API.
outside=$(comm -23 "$tmp/names" "$tmp/api")
if test -n "$outside"; then
    echo "FAIL: exported but not in the API (declare them COOP_API in coop.h, or hide them):"
    echo "$outside" | sed 's/^/    /'
    status=1
fi

# 2. The whole API, functions as functions.
missing=$(comm -13 "$tmp/names" "$tmp/api")
if test -n "$missing"; then
    echo "FAIL: in the API but not exported by the library:"
    echo "$missing" | sed 's/^/    /'
    status=1
fi
notfunc=$(awk 'FILENAME == ARGV[1] { api[$1] = 1; next }
               { n = $2; sub(/@.*/, "", n) }
               (n in api) && $1 != "FUNC" && $1 != "IFUNC" { print n " (" $1 ")" }' \
          "$tmp/api-functions" "$tmp/defined")
if test -n "$notfunc"; then
    echo "FAIL: API functions exported as something other than a function:"
    echo "$notfunc" | sed 's/^/    /'
    status=1
fi

# 3. Exactly the checked-in list, with versions.  When the linker gave no
# versions (no version script support), compare the names only.
sed -e 's/#.*//' -e '/^soname:/d' -e 's/[[:space:]]//g' -e '/^$/d' "$expected" \
    | sort -u > "$tmp/expected"
if test -s "$tmp/vernodes"; then
    sort -u "$tmp/exported" > "$tmp/actual"
    what="symbols and versions"
else
    echo "note: the library has no symbol versions; comparing names only"
    sed 's/@.*//' "$tmp/expected" | sort -u > "$tmp/expected.names"
    mv "$tmp/expected.names" "$tmp/expected"
    cp "$tmp/names" "$tmp/actual"
    what="symbol names"
fi
if ! cmp -s "$tmp/expected" "$tmp/actual"; then
    echo "FAIL: the exported $what differ from tests/exported-symbols.txt"
    echo "      (- listed only, + exported only):"
    diff -u "$tmp/expected" "$tmp/actual" | sed -n 's/^\([-+]\)\([^-+]\)/    \1\2/p'
    echo "      An ABI change must be deliberate: update tests/exported-symbols.txt,"
    echo "      debian/libcoop0.symbols and COOP_LT_VERSION (configure.ac) together."
    status=1
fi

# 4. The Debian symbols file (not in release tarballs) names the same set.
if test -f "$symbols"; then
    # Lines " name@VERSION minver"; the version-node marker is skipped.
    sed -n 's/^ \([^ @]*\)@\([^ ]*\) .*/\1@@\2/p' "$symbols" \
        | awk -F'@@' '$1 != $2' | sort -u > "$tmp/debian"
    if test -s "$tmp/vernodes"; then
        if ! cmp -s "$tmp/debian" "$tmp/expected"; then
            echo "FAIL: debian/libcoop0.symbols lists other symbols than tests/exported-symbols.txt:"
            diff -u "$tmp/expected" "$tmp/debian" | sed -n 's/^\([-+]\)\([^-+]\)/    \1\2/p'
            status=1
        fi
    fi
fi

# 5. The soname.
want_soname=$(sed -n 's/^soname:[[:space:]]*//p' "$expected")
soname=$("$READELF" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if test "$soname" != "$want_soname"; then
    echo "FAIL: the soname is '$soname', tests/exported-symbols.txt says '$want_soname'"
    echo "      (a new soname is an incompatible ABI: rename the Debian package too)"
    status=1
fi

test "$status" -eq 0 && echo "PASS: the exports of $soname are the API, as listed in tests/exported-symbols.txt"
exit "$status"
