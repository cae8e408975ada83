#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Instructions per operation of bench/coop-compare cases, counted under
# qemu-user: for architectures with no hardware at hand (riscv64, aarch64
# here), where timings under an emulator mean nothing but the number of
# guest instructions a round trip executes is exact and repeatable, as
# callgrind's count is on the host (compare-all.sh).
#
#   bench/qemu-insns.sh "EMULATOR [ARGS]" BINARY [SPEC...]
#
# e.g. bench/qemu-insns.sh "qemu-riscv64 -L /usr/riscv64-linux-gnu" \
#          bench/coop-compare libcoop:rt raw-asm:rt sigsetjmp:rt
#
# qemu runs one guest instruction per translation block (-singlestep) and
# logs every block it executes (-d nochain,exec); each case runs twice, with
# SMALL and LARGE iterations, and the difference divided by LARGE - SMALL
# is what one operation costs (set-up and exit cancel out).  Prints
# "SPEC<TAB>instructions".  "libcoop:CASE" stands for the libcoop backend
# the binary was built with.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 \"EMULATOR [ARGS]\" BINARY [SPEC...]" >&2; exit 2; }
emulator=$1
binary=$2
shift 2
[ $# -gt 0 ] || set -- libcoop:rt libcoop:rt-deep raw-asm:rt sigsetjmp:rt swapcontext:rt
small=${QEMU_INSNS_SMALL:-1000}
large=${QEMU_INSNS_LARGE:-3000}

log=$(mktemp "${TMPDIR:-/tmp}/qemu-insns.XXXXXX")
trap 'rm -f "$log"' EXIT

# count SPEC ITERATIONS: guest instructions the whole run executed
count() {
    # shellcheck disable=SC2086 # the emulator command is meant to split
    $emulator -singlestep -d nochain,exec -D "$log" \
        "$binary" --only "$1" --iterations "$2" >/dev/null 2>&1 || {
        echo "qemu-insns.sh: $binary --only $1 failed under $emulator" >&2
        return 1
    }
    grep -c '^Trace' "$log"
}

for spec in "$@"; do
    s=$(count "$spec" "$small") || continue
    l=$(count "$spec" "$large") || continue
    awk -v spec="$spec" -v s="$s" -v l="$l" -v n=$((large - small)) \
        'BEGIN { printf "%s\t%.1f\n", spec, (l - s) / n }'
done
