#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build libcoop once per backend, run bench/coop-compare with every build
# (the builds take turns, so that the backends and the peers are measured
# interleaved over the same minutes), then write:
#
#   OUT/samples.tsv        every sample: implementation, case, value
#   OUT/summary.tsv        median, quartiles and count per (implementation, case)
#   OUT/callgrind.tsv      instructions per operation, from callgrind
#   OUT/tables.md          the Markdown tables of doc/performance.md
#   OUT/performance.svg    round trip, memory and reach per implementation
#                          (and .png when gnuplot has pngcairo)
#   OUT/conditions.txt     machine, compiler, load before and after
#
# and print the tables.  A backend that fails to configure or build is
# skipped with a message.  Nothing fails on time.
#
#   bench/compare-all.sh [--quick] [--out DIR] [--backends "ucontext ..."]
#                        [--rounds N] [--no-callgrind] [--no-plot]
#                        [--report-only]
#
# --quick is a smoke run (CI): few rounds, small sizes, short samples.
# --report-only remakes the summary, tables and plot from OUT's samples.
# CONFIGURE_FLAGS (environment) is passed to every configure.
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
out=$PWD/compare-out
quick=
rounds=
backends=
callgrind=yes
plot=yes
report_only=
jobs=$(nproc 2>/dev/null || echo 2)

while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=yes ;;
    --out) out=$2; shift ;;
    --backends) backends=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --no-callgrind) callgrind= ;;
    --no-plot) plot= ;;
    --report-only) report_only=yes ;;
    -h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
    *) echo "compare-all.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
say() { printf '\n=== %s\n' "$*" >&2; }

[ -n "$backends" ] || backends="ucontext sigaltstack asm"

if [ -n "$quick" ]; then
    : "${rounds:=1}"
    compare_flags="--quick"
    memory_sizes="1000,10000"
    cg_small=1000; cg_large=11000
else
    : "${rounds:=5}"
    compare_flags="--rounds 3 --sample-ms 10"
    memory_sizes="10000,100000,1000000"
    cg_small=10000; cg_large=110000
fi

if [ -z "$report_only" ]; then
# ------------------------------------------------------------------ build
if [ -f "$srcdir/config.status" ]; then
    echo "compare-all.sh: $srcdir is configured in place; the builds here are out of" >&2
    echo "tree, which configure refuses then: run 'make distclean' there first" >&2
    exit 1
fi
if [ ! -x "$srcdir/configure" ]; then
    say "no configure script in $srcdir: running autoreconf -fi"
    (cd "$srcdir" && autoreconf -fi)
fi

built=
for b in $backends; do
    dir=$out/build-$b
    say "$b: configure and build in $dir"
    rm -rf "$dir" && mkdir -p "$dir"
    # shellcheck disable=SC2086 # CONFIGURE_FLAGS is meant to split
    if ! (cd "$dir" && "$srcdir/configure" --with-coroutine="$b" \
            ${CONFIGURE_FLAGS:-} >configure.log 2>&1); then
        echo "compare-all.sh: skipping backend $b: configure failed:" >&2
        grep -E 'error:' "$dir/configure.log" | tail -n 3 >&2 || true
        continue
    fi
    if ! make -C "$dir" -j"$jobs" bench/coop-compare >"$dir/build.log" 2>&1; then
        echo "compare-all.sh: skipping backend $b: build failed (see $dir/build.log):" >&2
        tail -n 5 "$dir/build.log" >&2
        continue
    fi
    built="$built $b"
done
built=${built# }
if [ -z "$built" ]; then
    echo "compare-all.sh: no backend could be built" >&2
    exit 1
fi
first=${built%% *}
bin() { echo "$out/build-$1/bench/coop-compare"; }

# ----------------------------------------------------------- conditions
{
    echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host:      $(uname -srm)"
    echo "cpu:       $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) x $(nproc)"
    echo "compilers: $(${CC:-cc} --version | head -n 1); $(${CXX:-c++} --version | head -n 1)"
    echo "peers:     $(grep -h 'benchmark peers:' "$out"/build-"$first"/configure.log 2>/dev/null | sed 's/.*: *//' || true)"
    echo "backends:  $built"
    echo "timing:    $rounds rounds, every build once per round, each run: coop-compare $compare_flags"
    echo "load before: $(uptime | sed 's/.*load average/load average/')"
} >"$out/conditions.txt"

# ------------------------------------------------------------------ timing
: >"$out/samples.tsv"
: >"$out/load.txt"
say "timing: $rounds round(s) over: $built"
read -r -a builds <<<"$built"
for r in $(seq 1 "$rounds"); do
    # Rotate the order of the builds from one round to the next.
    for j in "${!builds[@]}"; do
        b=${builds[(j + r - 1) % ${#builds[@]}]}
        echo "round $r/$rounds: $b (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        cut -d' ' -f1 /proc/loadavg >>"$out/load.txt"
        # shellcheck disable=SC2086
        "$(bin "$b")" $compare_flags --no-memory --samples "$out/samples.tsv" \
            >"$out/timing-$b-$r.txt"
    done
done

# ------------------------------------------------------------------ memory
say "live memory at $memory_sizes"
for b in $built; do
    if [ "$b" = "$first" ]; then impls=; else impls="--impls libcoop"; fi
    # shellcheck disable=SC2086
    "$(bin "$b")" --memory-only --sizes "$memory_sizes" $impls \
        --samples "$out/samples.tsv" | tee "$out/memory-$b.txt" >&2
done
{
    echo "load after:  $(uptime | sed 's/.*load average/load average/')"
    echo "1-minute load when each timing run started: $(sort -g "$out/load.txt" | sed -n '1p;$p' | paste -sd- -) (median $(sort -g "$out/load.txt" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'), on $(nproc) CPUs)"
} >>"$out/conditions.txt"

# --------------------------------------------------------------- callgrind
: >"$out/callgrind.tsv"
if [ -n "$callgrind" ] && command -v valgrind >/dev/null 2>&1; then
    say "callgrind: instructions per operation (difference of $cg_small and $cg_large iterations)"
    collected() { # binary spec iterations
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$1" --only "$2" --iterations "$3" 2>&1 |
            sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
    }
    for b in $built; do
        specs="libcoop:rt libcoop:rt-deep libcoop:create-pooled"
        if [ "$b" = "$first" ]; then
            specs="$specs $("$(bin "$b")" --list | awk '/^ / && /:(rt|rt-deep|create-pooled)$/ && !/libcoop\// { print $1 }')"
        fi
        for spec in $specs; do
            small=$(collected "$(bin "$b")" "$spec" "$cg_small")
            large=$(collected "$(bin "$b")" "$spec" "$cg_large")
            impl=${spec%%:*}
            [ "$impl" = libcoop ] && impl="libcoop/$("$(bin "$b")" --list | sed -n 's|^libcoop/\([^ ]*\).*|\1|p' | head -n 1)"
            if [ -n "$small" ] && [ -n "$large" ]; then
                awk -v i="$impl" -v c="${spec#*:}" -v s="$small" -v l="$large" \
                    -v n=$((cg_large - cg_small)) \
                    'BEGIN { printf "%s\t%s\t%.1f\n", i, c, (l - s) / n }' >>"$out/callgrind.tsv"
            else
                echo "compare-all.sh: callgrind gave no count for $spec on $b" >&2
            fi
        done
    done
else
    echo "compare-all.sh: no callgrind figures (valgrind not installed, or --no-callgrind)" >&2
fi

fi # not --report-only

# --------------------------------------------------------------- summary
LC_ALL=C sort -t "$(printf '\t')" -k1,1 -k2,2 -k3,3g "$out/samples.tsv" |
awk 'BEGIN { FS = OFS = "\t" }
function flush(   med, q) {
    if (n == 0) return
    med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    q = int((n - 1) / 4)
    print impl, kase, med, v[q + 1], v[n - q], n, note
    n = 0; note = ""
}
{
    if ($1 != impl || $2 != kase) { flush(); impl = $1; kase = $2 }
    v[++n] = $3
    if (NF >= 4 && $4 != "") note = $4
}
END { flush() }' >"$out/summary.tsv"

# The implementations in the order of the tables: libcoop's backends first.
libcoop_rows=$(cut -f1 "$out/summary.tsv" | grep '^libcoop/' | sort -u | tr '\n' ' ')
order="$libcoop_rows fcontext fiber pcl swapcontext sigsetjmp sigsetjmp-inline raw-asm raw-asm-call raw-asm-fpsave raw-asm-noguard handover"

awk -v order="$order" -v cgfile="$out/callgrind.tsv" 'BEGIN { FS = "\t" }
function num(x) { return x < 100 ? sprintf("%.1f", x) : sprintf("%.0f", x) }
function thousands(x,   s, r) {
    s = sprintf("%d", x); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return s r
}
function cell(i, c) {
    if (!((i, c) in med)) return "–"
    return num(med[i, c]) " (" num(lo[i, c]) "–" num(hi[i, c]) ")"
}
function short(n) {
    return n >= 1000000 ? (n / 1000000) "M" : n >= 1000 ? (n / 1000) "k" : n
}
FNR == NR && FILENAME == cgfile { cg[$1, $2] = $3; next }
{
    med[$1, $2] = $3; lo[$1, $2] = $4; hi[$1, $2] = $5; note[$1, $2] = $7
    if ($2 ~ /^made@/) { sz = substr($2, 6) + 0; if (!(sz in seen)) { seen[sz] = 1; sizes[++ns] = sz } }
}
END {
    # sizes ascending (few of them: insertion sort)
    for (a = 2; a <= ns; a++) for (b = a; b > 1 && sizes[b - 1] > sizes[b]; b--) {
        t = sizes[b]; sizes[b] = sizes[b - 1]; sizes[b - 1] = t }
    nr = split(order, row, " ")

    print "#### Time (ns, median and interquartile range over all rounds)"
    print ""
    print "| implementation | round trip | round trip, one extra frame each side | round trip, FP flags differ | create+enter+finish, pooled | create+enter+finish, fresh stack | wake chain, per hop | mutex hand-off | thread migration, per hop |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    ncs = split("rt rt-deep rt-fpflags create-pooled create-fresh wake-chain mutex-handoff migrate", cs, " ")
    for (r = 1; r <= nr; r++) {
        i = row[r]; any = 0
        for (k = 1; k <= ncs; k++) if ((i, cs[k]) in med) any = 1
        if (!any) continue
        line = "| " i
        for (k = 1; k <= ncs; k++) line = line " | " cell(i, cs[k])
        print line " |"
    }

    if (ns > 0) {
        print ""
        print "#### Live coroutines (1 MiB stacks, each entered once and suspended)"
        print ""
        h = "| implementation"; d = "| ---"
        for (s = 1; s <= ns; s++) { h = h " | RSS KiB per coroutine, " short(sizes[s]); d = d " | ---:" }
        h = h " | mappings added | create + first enter, ns | live coroutines reached |"
        d = d " | ---: | ---: | --- |"
        print h; print d
        for (r = 1; r <= nr; r++) {
            i = row[r]
            if (!((i, "made@" sizes[1]) in med)) continue
            line = "| " i
            for (s = 1; s <= ns; s++) {
                k = "rss-kib@" sizes[s]
                line = line " | " (((i, k) in med) ? sprintf("%.2f", med[i, k]) : "–")
            }
            big = sizes[ns]
            made = med[i, "made@" big]
            line = line " | " (((i, "maps@" big) in med) ? thousands(med[i, "maps@" big] * made + 0.5) " for " thousands(made) : "–")
            line = line " | " (((i, "create-live@" big) in med) ? num(med[i, "create-live@" big]) : "–")
            reach = "all"
            for (s = 1; s <= ns; s++) {
                m = med[i, "made@" sizes[s]]
                if (m < sizes[s]) { reach = thousands(m) " of " thousands(sizes[s]) (note[i, "made@" sizes[s]] != "" ? ": " note[i, "made@" sizes[s]] : ""); break }
            }
            print line " | " reach " |"
        }
    }

    ncg = 0
    for (r = 1; r <= nr; r++) if ((row[r], "rt") in cg) ncg++
    if (ncg > 0) {
        print ""
        print "#### Instructions per operation (callgrind; user space only, a system call counts as one)"
        print ""
        print "| implementation | round trip | round trip, one extra frame each side | create+enter+finish, pooled |"
        print "| --- | ---: | ---: | ---: |"
        ncc = split("rt rt-deep create-pooled", cc, " ")
        for (r = 1; r <= nr; r++) {
            i = row[r]
            if (!((i, "rt") in cg)) continue
            line = "| " i
            for (k = 1; k <= ncc; k++)
                line = line " | " (((i, cc[k]) in cg) ? sprintf("%.0f", cg[i, cc[k]]) : "–")
            print line " |"
        }
    }
}' "$out/callgrind.tsv" "$out/summary.tsv" >"$out/tables.md"

# ------------------------------------------------------------------ plot
if [ -n "$plot" ] && command -v gnuplot >/dev/null 2>&1; then
    # One line per implementation: row, label, round trip median, p25,
    # p75, RSS KiB per coroutine at the smallest size, coroutines reached at
    # the largest size, round trip with FP flags differing.
    awk -v order="$order" 'BEGIN { FS = "\t" }
    { med[$1, $2] = $3; lo[$1, $2] = $4; hi[$1, $2] = $5
      if ($2 ~ /^made@/) { sz = substr($2, 6) + 0; if (small == "" || sz < small) small = sz; if (sz > big) big = sz } }
    END {
        nr = split(order, row, " "); y = 0
        for (r = nr; r >= 1; r--) {
            i = row[r]
            if (!((i, "rt") in med) && !((i, "made@" small) in med)) continue
            printf "%d\t\"%s\"\t%s\t%s\t%s\t%s\t%s\t%s\n", y++, i,
                ((i, "rt") in med) ? med[i, "rt"] : "NaN",
                ((i, "rt") in med) ? lo[i, "rt"] : "NaN",
                ((i, "rt") in med) ? hi[i, "rt"] : "NaN",
                ((i, "rss-kib@" small) in med) ? med[i, "rss-kib@" small] : "NaN",
                ((i, "made@" big) in med) ? med[i, "made@" big] : "NaN",
                ((i, "rt-fpflags") in med) ? med[i, "rt-fpflags"] : "NaN"
        }
        printf "# sizes %s %s\n", small, big
    }' "$out/summary.tsv" >"$out/plot.dat"
    small=$(sed -n 's/^# sizes \([0-9]*\) .*/\1/p' "$out/plot.dat")
    big=$(sed -n 's/^# sizes [0-9]* \([0-9]*\)/\1/p' "$out/plot.dat")
    rows=$(grep -vc '^#' "$out/plot.dat" || true)
    height=$((190 + 26 * rows))
    cat >"$out/plot.gp" <<EOF
set termoption noenhanced
set datafile separator "\t"
set multiplot layout 1,3 title "libcoop and peers: $(sed -n 's/^cpu: *//p' "$out/conditions.txt" | sed 's/"//g'), $(sed -n 's/^date: *\([0-9-]*\).*/\1/p' "$out/conditions.txt")"
set style fill solid 0.6 border -1
set ytics nomirror
set yrange [-1.9:$rows - 0.4]
set grid x
set lmargin 20
set logscale x
set format x "%g"
set xrange [1:5000]
set key bottom right font ",9" samplen 1.5
set title "enter + yield round trip, ns (log)\nmedian; whiskers: interquartile range"
plot "$out/plot.dat" using 3:1:(1):3:(\$1):(\$1 + 0.4):ytic(2) with boxxyerror lc rgb "#4472c4" title "FP flags alike", \
     "" using 8:1:(1):8:(\$1 - 0.4):(\$1) with boxxyerror lc rgb "#c00000" title "FP status flags differ", \
     "" using 3:(\$1 + 0.2):4:5 with xerrorbars pt 0 lc rgb "black" notitle, \
     "" using 5:(\$1 + 0.2):(sprintf(" %.1f", \$3)) with labels left font ",8" notitle, \
     "" using 8:(\$1 - 0.2):(sprintf(" %.1f", \$8)) with labels left font ",8" tc rgb "#c00000" notitle
unset key
unset logscale x
set lmargin 2
set format y ""
set title "RSS per live coroutine, KiB\n(at $small live)"
set xrange [0:*]
plot "$out/plot.dat" using 6:1:(0):6:(\$1 - 0.35):(\$1 + 0.35) with boxxyerror lc rgb "#ed7d31", \
     "" using 6:1:(sprintf(" %.2f", \$6)) with labels left font ",9"
set logscale x
set format x "%.0s%c"
set xrange [1000:$((big * 20))]
set title "live coroutines reached (log)\n(asked for $big; default vm.max_map_count)"
plot "$out/plot.dat" using 7:1:(1000):7:(\$1 - 0.35):(\$1 + 0.35) with boxxyerror lc rgb "#70ad47", \
     "" using 7:1:(\$7 >= 1e6 ? sprintf(" %gM", \$7 / 1e6) : sprintf(" %gk", \$7 / 1e3)) with labels left font ",9"
unset multiplot
EOF
    gnuplot -e "set terminal svg size 1200,$height dynamic font 'sans,11' background 'white'; set output '$out/performance.svg'" "$out/plot.gp"
    sed -i '1a <!-- SPDX-License-Identifier: MIT -->' "$out/performance.svg"
    if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
        gnuplot -e "set terminal pngcairo size 1200,$height font 'sans,10' background 'white'; set output '$out/performance.png'" "$out/plot.gp"
    fi
    echo "plot: $out/performance.svg" >&2
else
    echo "compare-all.sh: no plot (gnuplot not installed, or --no-plot)" >&2
fi

say "conditions"
cat "$out/conditions.txt"
echo
cat "$out/tables.md"
