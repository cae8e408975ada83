#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The manual must follow the public headers, include/coop.h and
# include/coop-loop.h:
#   1. every COOP_API function has a page in section 3 (its own, or a .so
#      stub pointing at the page it shares), named in that page's NAME line;
#      no page names a function the headers do not declare;
#   2. every page is installed (listed in man/local.mk);
#   3. the headers' "Decision:" notes are all in the pages, coop(7)
#      included (counted);
#   4. the pages format without warnings (groff -ww, and mandoc -Tlint
#      where mandoc is installed);
#   5. every EXAMPLES program in the pages compiles against the library
#      just built and runs successfully.
# Environment (from the test harness): CC, top_srcdir, top_builddir,
# TEST_EMULATOR.

: "${CC:=cc}"
: "${top_srcdir:=.}"
: "${top_builddir:=.}"

man="$top_srcdir/man"
coop_h="$top_srcdir/include/coop.h"
loop_h="$top_srcdir/include/coop-loop.h"
export LC_ALL=C
status=0
fail() { echo "FAIL: $*"; status=1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# The page a file stands for: itself, or the target of its .so stub.
resolve() {
    target=$(sed -n '1s/^\.so man[0-9]*\///p' "$1")
    if test -n "$target"; then
        echo "$man/$target"
    else
        echo "$1"
    fi
}
# The names in a page's NAME section (up to the "\-").
names_of() {
    sed -n '/^\.SH NAME/,/^\.SH/p' "$1" | sed '1d;$d' | tr '\n' ' ' \
        | sed 's/\\-.*//' | tr ',' '\n' | sed 's/[[:space:]]//g; /^$/d'
}

# ------------------------------------------------------------ 1. coverage
for header in "$coop_h" "$loop_h"; do
    test -f "$header" || { echo "FAIL: no $header"; exit 1; }
    sed -n 's/^COOP_API[^(]*[ *]\(coop_[A-Za-z0-9_]*\)(.*/\1/p' "$header" \
        > "$tmp/api-one"
    test -s "$tmp/api-one" \
        || { echo "FAIL: no COOP_API declaration in $header"; exit 1; }
    cat "$tmp/api-one" >> "$tmp/api"
done
sort -u -o "$tmp/api" "$tmp/api"
while read -r fn; do
    page="$man/$fn.3"
    if ! test -f "$page"; then
        fail "$fn has no manual page (man/$fn.3)"
        continue
    fi
    real=$(resolve "$page")
    if ! test -f "$real"; then
        fail "man/$fn.3 points at a missing page ($real)"
        continue
    fi
    names_of "$real" | grep -qx "$fn" \
        || fail "$(basename "$real")'s NAME line does not name $fn"
done < "$tmp/api"
for page in "$man"/*.3; do
    test -f "$page" || continue
    test -n "$(sed -n '1s/^\.so //p' "$page")" && continue
    for n in $(names_of "$page"); do
        grep -qx "$n" "$tmp/api" \
            || fail "$(basename "$page") names $n, which neither coop.h nor coop-loop.h declares"
    done
done
test -f "$man/coop.7" || fail "no coop(7) overview"

# ------------------------------------------------------- 2. all installed
for page in "$man"/*.[37]; do
    grep -q "man/$(basename "$page")\\b" "$man/local.mk" \
        || fail "man/$(basename "$page") is not listed in man/local.mk"
done

# ------------------------------------------------------------ 3. decisions
# (A quoted "Decision:" is the header explaining the convention.)
in_header=$(cat "$coop_h" "$loop_h" | grep 'Decision:' | grep -vc '"Decision:"')
# coop(7) counts too: it holds the notes on the macros (no section-3 page).
in_pages=$(cat "$man"/*.3 "$man/coop.7" | grep 'Decision:' | grep -vc '"Decision:"')
test "$in_header" -eq "$in_pages" \
    || fail "coop.h and coop-loop.h have $in_header \"Decision:\" notes, the pages $in_pages"

# ------------------------------------------------------------- 4. format
# Only real pages: a .so stub resolves against an installed man tree.
pages=
for page in "$man"/*.[37]; do
    test -n "$(sed -n '1s/^\.so //p' "$page")" || pages="$pages $page"
done
if command -v groff >/dev/null 2>&1; then
    for page in $pages; do
        out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
        test -z "$out" || fail "groff warns about $(basename "$page"):
$out"
    done
else
    echo "no groff: formatting not checked"
fi
if command -v mandoc >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # the list is meant to split
    out=$(mandoc -Tlint -W warning $pages 2>&1)
    test -z "$out" || fail "mandoc -Tlint:
$out"
else
    echo "no mandoc: lint skipped"
fi

# ------------------------------------------------------------ 5. examples
lib="$top_builddir/libcoop.la"
if test -f "$lib" && test -x "$top_builddir/libtool"; then
    n=0
    for page in $pages; do
        # Each .EX/.EE block holding a main(), with the roff escapes undone.
        awk -v base="$tmp/ex-$(basename "$page")" '
            /^\.EX/ { on = 1; text = ""; next }
            /^\.EE/ { if (text ~ /int main\(/) { f = base "-" ++k ".c";
                                                 printf "%s", text > f; close(f) }
                      on = 0; next }
            on { gsub(/\\-/, "-"); gsub(/\\e/, "\\"); text = text $0 "\n" }
        ' "$page"
    done
    for src in "$tmp"/ex-*.c; do
        test -f "$src" || continue
        n=$((n + 1))
        name=$(basename "$src" .c)
        # shellcheck disable=SC2086 # CC may hold options
        if ! "$top_builddir/libtool" --mode=link --tag=CC $CC -std=c99 \
                -Wall -Werror -I"$top_srcdir/include" -no-install \
                -o "$tmp/$name" "$src" "$lib" > "$tmp/$name.log" 2>&1; then
            fail "the example $name does not compile:"
            cat "$tmp/$name.log"
            continue
        fi
        if ! $TEST_EMULATOR "$tmp/$name" > "$tmp/$name.out" 2>&1; then
            fail "the example $name fails:"
            cat "$tmp/$name.out"
        fi
    done
    echo "$n examples compiled and run"
else
    echo "no libcoop.la in $top_builddir: examples not built"
fi

test "$status" -eq 0 && echo "PASS: $(wc -l < "$tmp/api") functions documented, pages clean"
exit "$status"
