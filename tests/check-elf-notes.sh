#!/bin/sh
# SPDX-License-Identifier: MIT
#
# ELF hygiene of the built library, read with readelf:
#
#  1. libcoop.so asks for no executable stack: its PT_GNU_STACK is RW, not
#     RWE (one object without .note.GNU-stack would make it RWE).
#  2. With the asm backend, every assembly object -- the host's, and the
#     other architectures', which assemble to empty objects but are
#     linked all the same -- has a non-executable .note.GNU-stack and a
#     .note.gnu.property with every control-flow feature that the compiler
#     put into the C objects of the library (x86-64: IBT, SHSTK; AArch64:
#     BTI, PAC), so that linking them never turns that protection off.
#  3. Linking the library's objects, those included, into a shared object
#     without the C library's start files keeps the property.
#
# Why the objects and not libcoop.so itself: the linker keeps a property
# only if EVERY input has it, the C library's start files included.  On
# Debian 12, glibc's crti.o/crtn.o carry no .note.gnu.property, so no
# shared library linked there has one, whatever libcoop does; this script
# reports that but does not fail on it.  What libcoop can guarantee is that
# its own objects never are the ones that drop the property.
#
# Environment (from the test harness): top_builddir, CC; READELF to choose
# the readelf.  Exit 77 (skip) when there is no shared library or no
# readelf that reads it.

: "${top_builddir:=.}"
: "${CC:=cc}"

so="$top_builddir/.libs/libcoop.so"
if test ! -f "$so"; then
    echo "no $so (static-only build?): skipped"
    exit 77
fi

# readelf: $READELF, else the compiler's target-prefixed one, else plain.
if test -z "${READELF-}"; then
    triplet=$($CC -dumpmachine 2>/dev/null)
    if test -n "$triplet" && command -v "$triplet-readelf" >/dev/null 2>&1; then
        READELF=$triplet-readelf
    else
        READELF=readelf
    fi
fi
if ! command -v "${READELF%% *}" >/dev/null 2>&1; then
    echo "no readelf ('$READELF'): skipped"
    exit 77
fi
machine=$($READELF -h "$so" 2>/dev/null | sed -n 's/^ *Machine: *//p')
case $machine in
    *X86-64*)  arch=x86_64 ;;
    *AArch64*) arch=aarch64 ;;
    "")        echo "$READELF cannot read $so: skipped"; exit 77 ;;
    *)         arch=other ;;
esac
echo "$so: $machine, read with $READELF"

fail=0

# ------------------------------------------------------ 1. stack not executable
stack=$($READELF -lW "$so" | awk '$1 == "GNU_STACK" { print $(NF - 1) }')
case $stack in
    "")   echo "FAIL: $so has no PT_GNU_STACK (the loader assumes an executable stack)"; fail=1 ;;
    *E*)  echo "FAIL: $so asks for an executable stack (PT_GNU_STACK $stack)"; fail=1 ;;
    *)    echo "ok: PT_GNU_STACK is $stack" ;;
esac

# The control-flow features in an object's .note.gnu.property, one a line.
features() {
    $READELF -n "$1" 2>/dev/null |
        sed -n 's/.*\(x86\|AArch64\) feature: *//p' | tr ',' '\n' |
        sed 's/^ *//; s/ *$//' | grep -v '^$' | sort -u
}

# libtool puts the objects linked into the shared library in .libs/.
object() {
    for o in "$top_builddir"/backends/.libs/*"$1".o "$top_builddir"/backends/*"$1".o; do
        if test -f "$o"; then
            echo "$o"
            return
        fi
    done
}

if ! grep -q '^#define COOP_BACKEND_ASM 1' "$top_builddir/config.h" 2>/dev/null; then
    echo "not the asm backend: no assembly objects to check"
    exit $fail
fi

# ----------------------------------------------- 2. notes of the asm objects
ref=$(object -asm)          # backends/asm.c, compiled with the library's flags
x86=$(object -asm-x86_64)
a64=$(object -asm-aarch64)
rv64=$(object -asm-riscv64)
if test -z "$ref" || test -z "$x86" || test -z "$a64" || test -z "$rv64"; then
    echo "FAIL: asm backend configured, but its objects are not all under $top_builddir/backends"
    exit 1
fi

want=$(features "$ref")
if test -z "$want"; then
    echo "note: the C objects carry no IBT/SHSTK/BTI/PAC property (compiler without -fcf-protection / -mbranch-protection?): nothing to match"
else
    echo "C objects ($ref): $(echo $want | tr ' ' ',')"
fi

for o in "$x86" "$a64" "$rv64"; do
    # name type address offset size entsize [flags] link info align
    line=$($READELF -SW "$o" | sed -n 's/^.*\] *\(\.note\.GNU-stack \)/\1/p')
    flags=$(echo "$line" | awk 'NF == 10 { print $7 }')
    if test -z "$line"; then
        echo "FAIL: $o has no .note.GNU-stack section"
        fail=1
    else
        case $flags in
            *X*) echo "FAIL: $o asks for an executable stack"; fail=1 ;;
            *)   echo "ok: $o has a non-executable .note.GNU-stack" ;;
        esac
    fi
    have=$(features "$o")
    missing=
    for f in $want; do
        echo "$have" | grep -qx "$f" || missing="$missing $f"
    done
    if test -n "$missing"; then
        echo "FAIL: $o lacks$missing in .note.gnu.property (has: $(echo $have | tr ' ' ','))"
        fail=1
    elif test -n "$want"; then
        echo "ok: $o: $(echo $have | tr ' ' ',')"
    fi
done

# ----------------------------------------- 3. the property survives the link
# (Under a sanitizer, $CC links the sanitizer runtime, which has no notes.)
if test -n "$want" && test -n "${COOP_TEST_SANITIZER:-}"; then
    echo "note: COOP_TEST_SANITIZER=$COOP_TEST_SANITIZER: link check skipped"
elif test -n "$want"; then
    tmp="$top_builddir/tests/check-elf-notes-$$.so"
    mkdir -p "$top_builddir/tests"
    trap 'rm -f "$tmp"' EXIT
    # Every object of the library (the asm fast paths need core's hidden
    # symbols, which only core's objects define), with the other
    # architectures' empty ones; the C library stays out.
    libobjs=$(ls "$top_builddir"/core/.libs/*.o "$top_builddir"/backends/.libs/*.o 2>/dev/null)
    # shellcheck disable=SC2086 # one object a word
    if test -n "$libobjs" &&
       $CC -shared -nostdlib -nostartfiles -Wl,--unresolved-symbols=ignore-all \
           -o "$tmp" $libobjs 2>/dev/null; then
        got=$(features "$tmp")
        missing=
        for f in $want; do
            echo "$got" | grep -qx "$f" || missing="$missing $f"
        done
        if test -n "$missing"; then
            echo "FAIL: linking the library's objects drops$missing"
            fail=1
        else
            echo "ok: the library's objects linked without start files: $(echo $got | tr ' ' ',')"
        fi
    else
        echo "note: $CC cannot link a test object here: link check skipped"
    fi
fi

# ----------------------------------------- 4. for information: the library
got=$(features "$so")
if test -n "$got"; then
    echo "info: $so: $(echo $got | tr ' ' ',')"
elif test -n "$want"; then
    lacking=
    for f in crti.o crtn.o crtbeginS.o crtendS.o; do
        p=$($CC -print-file-name=$f 2>/dev/null)
        if test -f "$p" && test -z "$(features "$p")"; then
            lacking="$lacking $p"
        fi
    done
    echo "info: $so has no .note.gnu.property${lacking:+: the start files$lacking lack it}"
fi

exit $fail
