#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# HTTP/1.1 keep-alive benchmark: libcoop's loop against a hand-written
# epoll server ("the limit"), libuv and State Threads.
#
# Builds the four servers and idle-clients, then
#  - throughput: for each connection count, ROUNDS rounds, each running
#    every server once in a rotating order (interleaved, so a slow patch of
#    the machine hits every server alike): the server pinned to one CPU,
#    wrk -t1 pinned to the other; requests/s per run, median per server;
#  - memory: IDLE idle keep-alive connections (one request answered on
#    each, then left open) against each server; VmRSS before and after,
#    KiB per connection.
# Prints a markdown report on stdout; --out DIR also writes http.dat,
# http.gp and (when gnuplot is there) http.svg.
#
# usage: bench/http/run.sh [--coop-build DIR] [--quick] [--rounds N]
#            [--duration SECONDS] [--conns "100 1000"] [--idle N]
#            [--servers "epoll libuv st coop [coop-wait]"] [--out DIR]
#            [--build-dir DIR] [--server-cpu N] [--client-cpu N]
#            [--port-base PORT] [--coop-buf BYTES] [--no-syscalls]
#
# --coop-build DIR: a libcoop build directory (DIR/.libs/libcoop.so);
# without it, or when http-coop does not build, the coop server is skipped.
# --servers: coop-wait (not run by default) is http-coop.c built with
# -DHTTP_COOP_WAIT_FIRST=1 (see there).
# --coop-buf BYTES: the coop server's request buffer (on its stack; default
# 4096, the size every server uses).
#
# --no-syscalls: skip the syscall count.  By default, when perf can count
# the raw_syscalls tracepoint, every server gets one more (untimed) wrk run
# per connection count under perf stat, for system calls per request: a
# figure that other load on the machine does not change.
#
# Columns: req/s is wrk's; "req/CPU-s" divides it by the CPU time the
# server used (utime + stime over the run), which says more than req/s
# when other jobs share the machine; CPU% is that CPU time over the run.

set -u

orig_args=("$@")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

coop_build=
rounds=3
duration=5
conns="100 1000"
idle=10000
servers="epoll libuv st coop"
out=
build="$here/build"
server_cpu=0
client_cpu=1
port_base=18400
coop_buf=
syscalls=1

die() { echo "run.sh: $*" >&2; exit 2; }
note() { echo "run.sh: $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
    --coop-build) coop_build=$2; shift ;;
    --quick) rounds=1; duration=2; idle=1000; shift; continue ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --conns) conns=$2; shift ;;
    --idle) idle=$2; shift ;;
    --servers) servers=$2; shift ;;
    --out) out=$2; shift ;;
    --build-dir) build=$2; shift ;;
    --server-cpu) server_cpu=$2; shift ;;
    --client-cpu) client_cpu=$2; shift ;;
    --port-base) port_base=$2; shift ;;
    --coop-buf) coop_buf=$2; shift ;;
    --no-syscalls) syscalls=0; shift; continue ;;
    -h|--help) sed -n '3,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    [ $# -gt 0 ] || die "option needs a value"
    shift
done

command -v wrk >/dev/null || die "wrk not found"
command -v taskset >/dev/null || die "taskset not found"
mkdir -p "$build" || die "cannot make $build"

# ------------------------------------------------------------------ build

cc=${CC:-cc}
cflags="-O2 -Wall -Wextra"
built=
lib=
build_one() {   # name, extra args... (name-x: built from http-name.c)
    local name=$1; shift
    if "$cc" $cflags -o "$build/http-$name" "$here/http-${name%%-*}.c" "$@" \
        2>"$build/http-$name.log"; then
        built="$built $name"
    else
        note "http-$name did not build, skipped (see $build/http-$name.log):"
        head -5 "$build/http-$name.log" >&2
    fi
}
for s in $servers; do
    case $s in
    epoll) build_one epoll ;;
    libuv) build_one libuv $(pkg-config --cflags --libs libuv 2>/dev/null \
                             || echo -luv) ;;
    st) build_one st -lst ;;
    coop|coop-wait)
        if [ -z "$coop_build" ]; then
            note "no --coop-build DIR: $s server skipped"
        elif [ ! -e "$coop_build/.libs/libcoop.so" ]; then
            note "$coop_build/.libs/libcoop.so missing: $s server skipped"
        else
            lib=$(cd "$coop_build/.libs" && pwd)
            wf=
            [ "$s" = coop-wait ] && wf=-DHTTP_COOP_WAIT_FIRST=1
            build_one "$s" $wf ${coop_buf:+-DHTTP_COOP_BUF=$coop_buf} \
                -I"$top/include" "$lib/libcoop.so" \
                -Wl,-rpath,"$lib"
        fi ;;
    *) die "unknown server $s" ;;
    esac
done
"$cc" $cflags -o "$build/idle-clients" "$here/idle-clients.c" \
    || die "idle-clients did not build"
servers=$built
[ -n "$servers" ] || die "no server built"

# --------------------------------------------------------------- helpers

# Descriptors: the idle test needs one per connection on each side.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((idle + 100)) ]; then
    ulimit -Hn $((idle + 100)) 2>/dev/null || \
        note "hard RLIMIT_NOFILE is $hard (< $((idle + 100))), cannot raise it"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null

port_of() {     # server -> its own port, so TIME_WAITs never collide
    local i=0 s
    for s in epoll libuv st coop coop-wait; do
        [ "$s" = "$1" ] && { echo $((port_base + i)); return; }
        i=$((i + 1))
    done
}

spid=
start_server() {    # name
    local port
    port=$(port_of "$1")
    taskset -c "$server_cpu" "$build/http-$1" "$port" \
        >"$build/http-$1.out" 2>&1 &
    spid=$!
    local i
    for i in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.05
    done
    note "http-$1 did not start listening on $port"
    stop_server
    return 1
}
stop_server() {
    [ -n "$spid" ] || return 0
    if ! kill -0 "$spid" 2>/dev/null; then
        note "server $spid had died: $(tail -3 "$build"/http-*.out 2>/dev/null)"
    fi
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=
}
trap 'stop_server; exec 8>&- 2>/dev/null' EXIT

cpu_ticks() {   # pid -> utime + stime, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}
median() {      # numbers on stdin -> median
    sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "-";
              else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
hz=$(getconf CLK_TCK)

raw="$build/runs.txt"       # round conns server rps errors server-cpu% load1
: >"$raw"

# ------------------------------------------------------------ throughput

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
up_start=$(uptime)
set -- $servers
nserv=$#
for n in $conns; do
    for r in $(seq "$rounds"); do
        # rotate the order by one server per round
        order=
        for i in $(seq 0 $((nserv - 1))); do
            j=$(( (i + r - 1) % nserv + 1 ))
            order="$order ${!j}"
        done
        for s in $order; do
            start_server "$s" || continue
            port=$(port_of "$s")
            t0=$(cpu_ticks "$spid")
            res=$(taskset -c "$client_cpu" wrk -t1 -c "$n" -d "${duration}s" \
                  "http://127.0.0.1:$port/" 2>&1)
            t1=$(cpu_ticks "$spid")
            load=$(cut -d' ' -f1 /proc/loadavg)
            stop_server
            rps=$(echo "$res" | awk '/^Requests\/sec:/ { print $2 }')
            errs=$(echo "$res" | awk '
                /Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
                /Non-2xx/ { e += $NF }
                END { print e + 0 }')
            cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v d="$duration" \
                  'BEGIN { printf "%.0f", 100 * (b - a) / hz / d }')
            [ -n "$rps" ] || { note "wrk failed for $s: $res"; rps=0; }
            echo "$r $n $s $rps $errs $cpu $load" >>"$raw"
            note "round $r, $n conns, $s: $rps req/s, $errs errors," \
                 "server CPU $cpu%, load $load"
        done
    done
done

# -------------------------------------------------------------- syscalls

sysf="$build/syscalls.txt"  # conns server requests syscalls epoll_ctls
: >"$sysf"
if [ "$syscalls" = 1 ] && command -v perf >/dev/null &&
    perf stat -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
    for n in $conns; do
        for s in $servers; do
            start_server "$s" || continue
            port=$(port_of "$s")
            pf="$build/perf-$s-$n.txt"
            perf stat -x, -o "$pf" -p "$spid" -e raw_syscalls:sys_enter \
                -e syscalls:sys_enter_epoll_ctl 2>/dev/null &
            ppid=$!
            sleep 0.3
            res=$(taskset -c "$client_cpu" wrk -t1 -c "$n" -d 3s \
                  "http://127.0.0.1:$port/" 2>&1)
            sleep 0.1
            kill -INT "$ppid"; wait "$ppid" 2>/dev/null
            stop_server
            reqs=$(echo "$res" | awk '/ requests in / { print $1 }')
            all=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 + 0 }' "$pf")
            ctl=$(awk -F, '$3 == "syscalls:sys_enter_epoll_ctl" { print $1 + 0 }' "$pf")
            echo "$n $s ${reqs:-0} ${all:-0} ${ctl:-0}" >>"$sysf"
            note "syscalls $s, $n conns: ${reqs:-0} requests, ${all:-0} syscalls," \
                 "${ctl:-0} epoll_ctl"
        done
    done
elif [ "$syscalls" = 1 ]; then
    note "perf cannot count raw_syscalls:sys_enter: no syscall count"
fi

# ---------------------------------------------------------------- memory

memf="$build/idle.txt"      # server conns-ok rss-before rss-after
: >"$memf"
if [ "$idle" -gt 0 ]; then
    fifo="$build/idle.fifo"
    for s in $servers; do
        start_server "$s" || continue
        port=$(port_of "$s")
        sleep 0.2
        before=$(rss_kib "$spid")
        rm -f "$fifo"; mkfifo "$fifo"
        taskset -c "$client_cpu" "$build/idle-clients" "$port" "$idle" \
            <"$fifo" >"$build/idle-$s.out" 2>"$build/idle-$s.err" &
        cpid=$!
        exec 8>"$fifo"
        ok=
        for i in $(seq 1200); do       # up to 120 s
            ok=$(awk '/^ready/ { print $2 }' "$build/idle-$s.out")
            [ -n "$ok" ] && break
            kill -0 "$cpid" 2>/dev/null || break
            sleep 0.1
        done
        sleep 0.3
        after=$(rss_kib "$spid")
        exec 8>&-
        wait "$cpid" 2>/dev/null
        stop_server
        rm -f "$fifo"
        [ -n "$ok" ] || ok=0
        [ "$ok" = "$idle" ] || note "idle $s: only $ok of $idle connections:" \
            "$(cat "$build/idle-$s.err")"
        echo "$s $ok $before $after" >>"$memf"
        note "idle $s: $ok connections, VmRSS $before -> $after KiB"
    done
fi
up_end=$(uptime)

# ---------------------------------------------------------------- report

med() {         # conns server -> median req/s
    awk -v n="$1" -v s="$2" '$2 == n && $3 == s && $4 > 0 { print $4 }' \
        "$raw" | median
}
spread() {      # conns server -> min-max
    awk -v n="$1" -v s="$2" '$2 == n && $3 == s && $4 > 0 { print $4 }' \
        "$raw" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
        END { if (NR) printf "%.0f-%.0f", lo, hi; else print "-" }'
}
effic() {       # conns server -> median requests per server CPU-second
    awk -v n="$1" -v s="$2" '$2 == n && $3 == s && $4 > 0 && $6 > 0 {
        print $4 * 100 / $6 }' "$raw" | median
}
medcpu() {
    awk -v n="$1" -v s="$2" '$2 == n && $3 == s { print $6 }' "$raw" | median
}
errsum() {
    awk -v n="$1" -v s="$2" '$2 == n && $3 == s { e += $5 } END { print e + 0 }' \
        "$raw"
}
perconn() {     # server -> KiB per idle connection
    awk -v s="$1" '$1 == s && $2 > 0 { printf "%.2f", ($4 - $3) / $2; f = 1 }
        END { if (!f) print "-" }' "$memf"
}
ratio() {       # a b -> a/b
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0)
        print "-"; else printf "%.3f", a / b }'
}

echo "## HTTP/1.1 keep-alive: requests/s (median of $rounds), KiB per idle connection"
echo
echo "- started $started; $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); Linux $(uname -r)"
echo "- servers on CPU $server_cpu, \`wrk -t1 -c N -d ${duration}s\` on CPU $client_cpu; $rounds interleaved rounds, rotating order; idle test: $idle connections"
echo "- uptime before: \`$(echo $up_start)\`"
echo "- uptime after: \`$(echo $up_end)\`"
if [ -n "$lib" ]; then
    echo "- libcoop: $lib/libcoop.so, tree at $(git -C "$top" rev-parse --short HEAD 2>/dev/null)$(git -C "$top" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'), library built $(date -u -r "$lib/libcoop.so" '+%H:%M UTC' 2>/dev/null)"
fi
echo "- server CPU% is the server's CPU time over the run: well below 100 means it waited (for wrk, or for a CPU other jobs had); req/CPU-s is then the steadier figure"
echo "- command: \`bench/http/run.sh$(printf ' %q' "${orig_args[@]:-}")\`"
echo
hdr="| server |"
sep="|---|"
for n in $conns; do
    hdr="$hdr $n conns req/s | x epoll | min-max | req/CPU-s | x epoll | CPU% |"
    sep="$sep---:|---:|---:|---:|---:|---:|"
done
hdr="$hdr idle KiB/conn |"
sep="$sep---:|"
echo "$hdr"
echo "$sep"
for s in $servers; do
    line="| $s |"
    for n in $conns; do
        m=$(med "$n" "$s")
        e=$(med "$n" epoll)
        errs=$(errsum "$n" "$s")
        mark=
        [ "$errs" != 0 ] && mark=" ($errs errors)"
        f=$(effic "$n" "$s")
        fe=$(effic "$n" epoll)
        line="$line $(printf '%.0f' "$m" 2>/dev/null || echo -)$mark | $(ratio "$m" "$e") | $(spread "$n" "$s") | $(printf '%.0f' "$f" 2>/dev/null || echo -) | $(ratio "$f" "$fe") | $(medcpu "$n" "$s") |"
    done
    line="$line $(perconn "$s") |"
    echo "$line"
done
if [ -s "$sysf" ]; then
    echo
    echo "System calls per request (one more run each under \`perf stat\`, wrk 3 s, not timed):"
    echo
    hdr="| server |"; sep="|---|"
    for n in $conns; do
        hdr="$hdr $n conns: syscalls/req | epoll_ctl/req |"
        sep="$sep---:|---:|"
    done
    echo "$hdr"; echo "$sep"
    for s in $servers; do
        line="| $s |"
        for n in $conns; do
            line="$line $(awk -v n="$n" -v s="$s" '$1 == n && $2 == s && $3 > 0 {
                printf "%.2f | %.2f", $4 / $3, $5 / $3; f = 1 }
                END { if (!f) print "- | -" }' "$sysf") |"
        done
        echo "$line"
    done
fi
echo
echo "Idle connections (VmRSS of the server, KiB):"
echo
echo "| server | connections | before | after | KiB/conn |"
echo "|---|---:|---:|---:|---:|"
while read -r s ok b a; do
    echo "| $s | $ok | $b | $a | $(perconn "$s") |"
done <"$memf"
echo
echo "Every run (round, conns, server, req/s, errors, server CPU%, load1):"
echo
echo '```'
cat "$raw"
echo '```'

# ---------------------------------------------------------------- gnuplot

if [ -n "$out" ]; then
    mkdir -p "$out" || die "cannot make $out"
    {
        printf '# server'
        for n in $conns; do printf ' rps_%s' "$n"; done
        printf ' kib_per_idle_conn\n'
        for s in $servers; do
            printf '%s' "$s"
            for n in $conns; do printf ' %s' "$(med "$n" "$s")"; done
            printf ' %s\n' "$(perconn "$s")"
        done
    } >"$out/http.dat"
    {
        echo "# SPDX-License-Identifier: MIT"
        echo "# gnuplot http.gp: http.dat -> http.svg (written by bench/http/run.sh)"
        echo "set terminal svg size 1000,420 dynamic enhanced font 'sans,11'"
        echo "set output 'http.svg'"
        echo "set datafile missing '-'"
        echo "set style data histograms"
        echo "set style histogram clustered gap 1"
        echo "set style fill solid 0.8 border -1"
        echo "set boxwidth 0.9"
        echo "set grid ytics"
        echo "set yrange [0:*]"
        echo "set multiplot layout 1,2 title 'HTTP/1.1 keep-alive, $started'"
        echo "set title 'requests/s (median of $rounds, wrk -t1 ${duration}s)'"
        echo "set key outside bottom center horizontal"
        printf "plot "
        col=2
        first=1
        for n in $conns; do
            [ $first = 1 ] || printf ", "
            if [ $first = 1 ]; then
                printf "'http.dat' using %d:xtic(1) title '%s conns'" $col "$n"
            else
                printf "'' using %d title '%s conns'" $col "$n"
            fi
            first=0
            col=$((col + 1))
        done
        echo
        echo "set title 'KiB per idle connection ($idle connections)'"
        echo "unset key"
        echo "plot 'http.dat' using $col:xtic(1) lc 3"
        echo "unset multiplot"
    } >"$out/http.gp"
    if command -v gnuplot >/dev/null; then
        (cd "$out" && gnuplot http.gp) || note "gnuplot failed"
    fi
    note "wrote $out/http.dat, $out/http.gp${out:+, $out/http.svg}"
fi
