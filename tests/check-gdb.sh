#!/bin/sh
# SPDX-License-Identifier: MIT
# The gdb extension (gdb/libcoop-gdb.py) on tests/gdb-target, which stops
# with coroutines in every state (see its header): "coop list" and
# "coop bt" on the live process, with libcoop as built and stripped, on a
# core file written by gdb's gcore and on one written by the kernel.
#
# Cross builds (TEST_EMULATOR, qemu-user) run the program under qemu's
# gdbstub and check it live with gdb-multiarch (or $GDB): the stripped
# library, core files and auto-loading are only tested natively.
#
# Skipped (77) without gdb or its Python, under sanitizers
# (COOP_TEST_SANITIZER: gcore would dump their shadow memory), and where
# gdb cannot run a program (no ptrace).

: "${top_srcdir:=.}" "${top_builddir:=.}"
if [ -n "$TEST_EMULATOR" ]; then
    GDB=${GDB:-gdb-multiarch}
else
    GDB=${GDB:-gdb}
fi
script="$top_srcdir/gdb/libcoop-gdb.py"
target="$top_builddir/tests/gdb-target"

skip() { echo "check-gdb: SKIP: $*"; exit 77; }
fail() { echo "check-gdb: FAIL: $*"; failed=1; }
# finish MESSAGE: every log when something failed, else MESSAGE; exits.
finish() {
    if [ "$failed" -ne 0 ]; then
        for log in "$tmp"/*.log; do
            echo "---- $(basename "$log")"
            cat "$log"
        done
        exit 1
    fi
    echo "check-gdb: $1"
    exit 0
}

if [ -n "$COOP_TEST_SANITIZER" ]; then
    skip "sanitizer build ($COOP_TEST_SANITIZER)"
fi
command -v "$GDB" >/dev/null 2>&1 || skip "no $GDB"
[ "$("$GDB" -batch -nx -ex 'python print(6 * 7)' 2>/dev/null)" = 42 ] ||
    skip "$GDB has no Python"
[ -x "$target" ] || { echo "check-gdb: $target is missing"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-gdb.XXXXXX") || exit 1
qemu_pid='' sockdir='' limit=''
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
    rm -rf "$tmp" ${sockdir:+"$sockdir"}
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
failed=0

# gdb_run LOG ARGS...: gdb in batch mode with the extension loaded.
# SIGRTMIN + 2 makes contexts on the sigaltstack backend: SIG36 with glibc,
# SIG37 with musl (which keeps one more real-time signal for itself).
gdb_run() {
    log=$1
    shift
    $limit "$GDB" -batch -nx -iex 'set debuginfod enabled off' \
        -ex 'set pagination off' -ex 'set width 0' \
        -ex "source $script" \
        -ex 'handle SIG36 SIG37 nostop noprint pass' "$@" >"$log" 2>&1
}

# The commands run at the stop (live) or on a core file.
set -- \
    -ex 'echo ==== list\n' -ex 'coop list' \
    -ex 'echo ==== bt sleeper\n' -ex 'coop bt *(void **)&gdb_target_sleeper' \
    -ex 'echo ==== bt queue-waiter\n' -ex 'coop bt *(void **)&gdb_target_queue_waiter' \
    -ex 'echo ==== bt outer\n' -ex 'coop bt *(void **)&gdb_target_outer' \
    -ex 'echo ==== bt fresh\n' -ex 'coop bt *(void **)&gdb_target_fresh' \
    -ex 'echo ==== bt runner\n' -ex 'coop bt *(void **)&gdb_target_runner' \
    -ex 'echo ==== bt waker\n' -ex 'coop bt *(void **)&gdb_target_waker' \
    -ex 'echo ==== bt all\n' -ex 'coop bt -all' \
    -ex 'echo ==== thread bt\n' -ex 'bt' \
    -ex 'echo ==== end\n'

# section LOG NAME: the lines of one "==== NAME" section of LOG.
section() {
    sed -n "/^==== $2\$/,/^==== /p" "$1" | sed '1d;$d'
}

# call_line NAME: the line of tests/gdb-target.c marked "check-gdb: NAME's
# line", the call a coroutine is suspended in.
call_line() {
    grep -n "check-gdb: $1's line" "$top_srcdir/tests/gdb-target.c" | cut -d: -f1
}
sleeper_line=$(call_line sleeper)
outer_line=$(call_line outer)
waker_line=$(call_line waker)

# check LOG WHAT: the output of the commands above is right.
check() {
    log=$1 what=$2
    if grep -q 'Python Exception\|Error occurred in Python' "$log"; then
        fail "$what: Python error"
    fi
    section "$log" list >"$tmp/list"
    grep -q "^libcoop: 11 coroutines, backend " "$tmp/list" ||
        fail "$what: coop list does not count 11 coroutines"
    backend=$(sed -n 's/^libcoop: .*, backend //p' "$tmp/list")
    for pair in outer:running runner:running t2-blocked:running \
                sleeper:suspended deep:suspended waker:suspended \
                queue-waiter:waiting mutex-waiter:waiting wakee:woken \
                fresh:new finished:pooled; do
        name=${pair%%:*} state=${pair#*:}
        grep -Eq "^0x[0-9a-f]+ +$state +$name " "$tmp/list" ||
            fail "$what: coop list does not show $name as $state"
    done
    grep -Eq '^0x[0-9a-f]+ +running +runner .* on thread 1$' "$tmp/list" ||
        fail "$what: runner is not shown on thread 1"
    grep -Eq '^0x[0-9a-f]+ +running +t2-blocked .* on thread 2$' "$tmp/list" ||
        fail "$what: t2-blocked is not shown on thread 2"
    grep -Eq '^0x[0-9a-f]+ +running +outer .* entered 0x[0-9a-f]+ "runner"$' "$tmp/list" ||
        fail "$what: outer is not shown as having entered runner"
    grep -Eq '^0x[0-9a-f]+ +waiting +queue-waiter .* on queue' "$tmp/list" ||
        fail "$what: queue-waiter is not shown waiting on queue"
    # deep touched 100 KiB of its stack
    awk '$3 == "deep" { ok = ($8 == "KiB" && $7 >= 100) } END { exit !ok }' \
        "$tmp/list" || fail "$what: deep's stack high-water mark is not >= 100 KiB"

    # frames, innermost first: ordered_frames SECTION FUNCTION...
    ordered_frames() {
        sec=$1
        shift
        section "$log" "$sec" >"$tmp/bt"
        line=0
        for fn in "$@"; do
            n=$(grep -n "^#[0-9]* *0x[0-9a-f]* in $fn " "$tmp/bt" | head -n 1 | cut -d: -f1)
            if [ -z "$n" ] || [ "$n" -le "$line" ]; then
                fail "$what: coop bt $sec: no frame $fn (after the previous ones)"
                sed 's/^/    /' "$tmp/bt"
                return
            fi
            line=$n
        done
    }
    ordered_frames "bt sleeper" coop_yield sleeper_deep sleeper_mid sleeper_fn
    ordered_frames "bt queue-waiter" coop_yield queue_waiter_fn
    ordered_frames "bt outer" coop_enter outer_fn
    ordered_frames "bt waker" waker_fn

    # frame NUMBER FUNCTION [LINE]: frame #NUMBER of $tmp/bt is FUNCTION
    # (in gdb-target.c at LINE, when given); NUMBER may be a pattern.
    frame() {
        pat="^#$1 +0x[0-9a-f]+ in $2 \(.*\)"
        [ -n "$3" ] && pat="$pat at ([^ ]*/)?gdb-target\.c:$3\$"
        grep -Eq "$pat" "$tmp/bt"
    }
    # The fast paths of the asm backends save a frame at the call of
    # coop_yield() (sleeper) or coop_enter() (outer): shown as that
    # function, then its caller.  (waker's coop_yield() took core's slow
    # path, which saves inside its C code: checked for its line below.)
    if case $backend in asm-*) true ;; *) false ;; esac; then
        section "$log" "bt sleeper" >"$tmp/bt"
        { frame 0 coop_yield && frame 1 sleeper_deep; } ||
            fail "$what: coop bt sleeper (fast coop_yield): not coop_yield, sleeper_deep"
        section "$log" "bt outer" >"$tmp/bt"
        { frame 0 coop_enter && frame 1 outer_fn; } ||
            fail "$what: coop bt outer (fast coop_enter): not coop_enter, outer_fn"
    fi
    # With debug information (the test program's), the calls they are
    # suspended in are shown at their lines.
    if section "$log" "thread bt" | grep -q ' in runner_fn .* at '; then
        for t in sleeper:sleeper_deep:$sleeper_line outer:outer_fn:$outer_line \
                 waker:waker_fn:$waker_line; do
            name=${t%%:*} t=${t#*:}
            fn=${t%%:*} n=${t#*:}
            section "$log" "bt $name" >"$tmp/bt"
            frame '[0-9]+' "$fn" "$n" || {
                fail "$what: coop bt $name: $fn is not at gdb-target.c:$n"
                sed 's/^/    /' "$tmp/bt"
            }
        done
    fi
    section "$log" "bt fresh" | grep -q '^coroutine 0x[0-9a-f]* "fresh", new' ||
        fail "$what: coop bt fresh"
    section "$log" "bt runner" | grep -q 'running on thread 1' ||
        fail "$what: coop bt runner does not send to thread 1"
    section "$log" "bt all" >"$tmp/all"
    for name in outer fresh waker wakee mutex-waiter queue-waiter deep sleeper; do
        grep -q "^coroutine 0x[0-9a-f]* \"$name\"" "$tmp/all" ||
            fail "$what: coop bt -all misses $name"
    done
    # the thread's own backtrace is intact afterwards
    section "$log" "thread bt" | grep -q 'in runner_fn ' ||
        fail "$what: bt after coop bt lost the thread's frames"
}

if [ -n "$TEST_EMULATOR" ]; then
    # 1. live under qemu-user, libcoop as built.  qemu's gdbstub listens
    # on a Unix socket of our own: no port to pick, none to collide with
    # another test's.  Its path must fit in sun_path (108 bytes).
    sock=$tmp/gdbstub
    if [ "${#sock}" -gt 100 ]; then
        sockdir=$(mktemp -d /tmp/check-gdb.XXXXXX) || exit 1
        sock=$sockdir/gdbstub
    fi
    # gdb finds the C library where the emulator does: under its -L
    # prefix, else at / (multiarch); libcoop by the RUNPATH's absolute path
    # in the build tree, or in .libs by name.
    sysroot=/ prev=
    for arg in $TEST_EMULATOR; do
        [ "$prev" = -L ] && sysroot=$arg
        prev=$arg
    done
    sysroot=${QEMU_LD_PREFIX:-$sysroot}
    libs=$(cd "$top_builddir/.libs" && pwd)
    # qemu 7.2's gdbstub does not tell gdb about pointer authentication:
    # gdb would take the signed return addresses (-mbranch-protection) for
    # plain ones and stop unwinding at the first.  Without FEAT_PAuth the
    # signing instructions are no-ops.
    case $TEST_EMULATOR in
    *qemu-aarch64*) QEMU_CPU=${QEMU_CPU:-max,pauth=off}; export QEMU_CPU ;;
    esac
    # A hung qemu or gdb must not block the suite.
    command -v timeout >/dev/null 2>&1 && limit="timeout 300"
    # shellcheck disable=SC2086 # TEST_EMULATOR may hold arguments
    $limit $TEST_EMULATOR -g "$sock" "$target" >"$tmp/qemu.log" 2>&1 &
    qemu_pid=$!
    n=0
    while [ ! -S "$sock" ] && [ "$n" -lt 100 ] &&
            kill -0 "$qemu_pid" 2>/dev/null; do
        sleep 0.1
        n=$((n + 1))
    done
    if [ -S "$sock" ]; then
        gdb_run "$tmp/live.log" \
            -ex "set sysroot $sysroot" -ex "set solib-search-path $libs" \
            -ex "file $target" -ex "target remote $sock" \
            -ex 'break gdb_target_stop' -ex continue "$@"
        if grep -q 'gdb_target_stop ()' "$tmp/live.log"; then
            check "$tmp/live.log" "live under $TEST_EMULATOR"
        else
            fail "gdb did not stop $target in gdb_target_stop (timed out?)"
        fi
    else
        fail "$TEST_EMULATOR -g $sock did not open its gdbstub"
    fi
    kill "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
    qemu_pid=
    echo "check-gdb: cross build: the stripped library, core files and" \
        "auto-loading are not tested (native only)"
    finish "coop list and coop bt work live under $TEST_EMULATOR"
fi

# A gdb that cannot trace a program here has nothing to test.
gdb_run "$tmp/probe.log" -ex 'break gdb_target_stop' -ex run "$target"
grep -q 'gdb_target_stop ()' "$tmp/probe.log" ||
    { sed 's/^/    /' "$tmp/probe.log"; skip "gdb cannot run $target here"; }

# 1. live, libcoop as built
gdb_run "$tmp/live.log" -ex 'break gdb_target_stop' -ex run "$@" "$target"
check "$tmp/live.log" "live"

# 2. live, libcoop stripped as packages ship it (only .dynsym is left);
# LD_PRELOAD wins over the test program's RPATH or RUNPATH by soname with
# glibc.  musl's loader does not match a preload by soname: it finds the
# same file again through LD_LIBRARY_PATH (searched before the program's
# path), so the copy bears the soname as its name.  No shell between gdb
# and the program: the preload is for the program only (a shell of another
# C library than the program's cannot load it).
lib=$(find "$top_builddir/.libs" -name 'libcoop.so.*.*' -type f | head -n 1)
soname=$(basename "$lib" | sed 's/^\(libcoop\.so\.[0-9]*\).*/\1/')
stripped=$tmp/stripped/$soname
if ! { mkdir "$tmp/stripped" && cp "$lib" "$stripped" &&
        chmod u+w "$stripped" && ${STRIP:-strip} --strip-all "$stripped"; }; then
    fail "cannot strip $lib"
fi
gdb_run "$tmp/stripped.log" -ex 'set startup-with-shell off' \
    -ex "set environment LD_PRELOAD=$stripped" \
    -ex "set environment LD_LIBRARY_PATH=$tmp/stripped" \
    -ex 'break gdb_target_stop' -ex run \
    -ex 'echo ==== libs\n' -ex 'info sharedlibrary' "$@" "$target"
section "$tmp/stripped.log" libs | grep -q "$tmp/stripped/" ||
    fail "stripped: the stripped libcoop was not loaded"
[ "$(section "$tmp/stripped.log" libs | grep -c 'libcoop')" -eq 1 ] ||
    fail "stripped: the built libcoop was loaded too"
check "$tmp/stripped.log" "stripped"

# 3. a core file from gdb's gcore.  gcore reads memory in 1 MiB blocks and
# writes a block that has an unreadable page as zeros: coroutine stacks
# carved out of one mapping with MADV_GUARD_INSTALL guards between them
# would be lost, so this process uses mprotect guards.
gdb_run "$tmp/gcore-make.log" -ex 'set environment COOP_NO_GUARD_INSTALL=1' \
    -ex 'break gdb_target_stop' -ex run -ex "gcore $tmp/gcore.core" "$target"
if [ -s "$tmp/gcore.core" ]; then
    gdb_run "$tmp/gcore.log" -ex "core-file $tmp/gcore.core" "$@" "$target"
    check "$tmp/gcore.log" "gcore"
else
    fail "gcore wrote no core file"
    sed 's/^/    /' "$tmp/gcore-make.log"
fi

# 4. a core file from the kernel, when it writes them to a file here.
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
case $pattern in
'' | '|'* | */*)
    echo "check-gdb: kernel core: not tested (core_pattern '$pattern')" ;;
*)
    abs_target=$(cd "$(dirname "$target")" && pwd)/$(basename "$target")
    mkdir "$tmp/kcore"
    # shellcheck disable=SC3045 # dash, bash and busybox sh have ulimit -c
    (cd "$tmp/kcore" && ulimit -c unlimited 2>/dev/null &&
        "$abs_target" abort >/dev/null 2>&1)
    core=$(find "$tmp/kcore" -type f | head -n 1)
    if [ -n "$core" ]; then
        gdb_run "$tmp/kcore.log" -ex "core-file $core" "$@" "$target"
        check "$tmp/kcore.log" "kernel core"
    else
        echo "check-gdb: kernel core: none written (ulimit -c or core_pattern '$pattern')"
    fi ;;
esac

# 5. auto-loading: the script as installed (gdb/libcoop.so.X.Y.Z-gdb.py in
# the build tree) under a scripts-directory that mirrors the real path of
# the library the program loads, and no "source": gdb must find it by name.
autoload=$(find "$top_builddir/gdb" -name 'libcoop.so.*-gdb.py' | head -n 1)
if [ -n "$autoload" ]; then
    libdir=$(cd "$(dirname "$lib")" && pwd -P)
    mkdir -p "$tmp/auto-load$libdir"
    cp "$autoload" "$tmp/auto-load$libdir/"
    "$GDB" -batch -nx -iex 'set debuginfod enabled off' \
        -iex "set auto-load scripts-directory $tmp/auto-load" \
        -iex "set auto-load safe-path $tmp/auto-load" \
        -ex 'handle SIG36 SIG37 nostop noprint pass' \
        -ex 'break gdb_target_stop' -ex run -ex 'coop list -no-scan' \
        "$target" >"$tmp/autoload.log" 2>&1
    grep -Eq '^0x[0-9a-f]+ +suspended +sleeper ' "$tmp/autoload.log" ||
        fail "auto-load: gdb did not load $(basename "$autoload") for $lib"
else
    fail "no gdb/libcoop.so.*-gdb.py in the build tree"
fi

finish "coop list and coop bt work live, stripped and on core files"
