#!/usr/bin/env bash
# End-to-end comparison: flowaudit against the usual capture tools on the same generated files.
#
#   benches/compare.sh [--size 1GiB] [--runs 5] [--seed 1] [--keep] [--no-tshark]
#
# Builds flowaudit in release mode, writes two captures with `flowaudit-gen bench` into
# bench-data/ (git-ignored): the realistic mix and the small-packet file, reusing files of the same
# size, seed and generator source left by an earlier run with --keep. Warms the page cache, then
# times every tool that is installed, several runs each, one after another (never two at once),
# and prints per file: median seconds, GB/s, million packets per second, peak resident memory and
# the tool's time over `flowaudit audit --threads 1` (the full job on one thread; above 1 means
# the tool is slower than flowaudit). Tools that are missing are listed as "not installed";
# nothing is installed from here. Exit status 0 whenever the table could be printed.
#
# Timing: wall time from `date +%s%N` around each run (10 ms resolution of GNU time's %e is too
# coarse for the fast rows), peak RSS from GNU time's %M (/usr/bin/time; "-" without it).
set -euo pipefail

size=1GiB
runs=5
seed=1
keep=0
tshark=1
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size=$2; shift 2 ;;
        --size=*) size=${1#*=}; shift ;;
        --runs) runs=$2; shift 2 ;;
        --runs=*) runs=${1#*=}; shift ;;
        --seed) seed=$2; shift 2 ;;
        --seed=*) seed=${1#*=}; shift ;;
        --keep) keep=1; shift ;;
        --no-tshark) tshark=0; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$runs" in ''|*[!0-9]*|0) echo "compare.sh: --runs needs a positive number" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=bench-data
mkdir -p "$data"
work=$(mktemp -d "${TMPDIR:-/tmp}/flowaudit-compare.XXXXXX")
generated=()
cleanup() {
    rm -rf "$work"
    if [ "$keep" = 0 ] && [ ${#generated[@]} -gt 0 ]; then
        for f in "${generated[@]}"; do rm -f "$f" "$f.info"; done
    fi
}
trap cleanup EXIT

have() { command -v "$1" >/dev/null 2>&1; }
gnu_time=""
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' true 2>/dev/null >/dev/null; then
    gnu_time=/usr/bin/time
fi

echo "== building (cargo build --release --bins)"
cargo build --release --bins --quiet
fa=$root/target/release/flowaudit
gen=$root/target/release/flowaudit-gen
threads=$(nproc 2>/dev/null || echo 1)

# The generator's source, so that a file left by an older generator is not reused.
gen_id=$(cat src/synth/stream.rs src/synth/frame.rs src/synth/writer.rs src/synth/payload.rs \
    | cksum | cut -d' ' -f1)

# make_file KIND: sets $made to the capture's path, generating it unless an identical file (same
# kind, size, seed and generator source) is there already.
make_file() {
    local kind=$1 f="$data/$1-$size-s$seed.pcap"
    local want="kind=$kind size=$size seed=$seed gen=$gen_id"
    if [ -f "$f" ] && [ -f "$f.info" ] && [ "$(head -n1 "$f.info")" = "$want" ]; then
        echo "reusing $(sed -n 2p "$f.info")"
    else
        rm -f "$f" "$f.info"
        local line
        line=$("$gen" bench --kind "$kind" --size "$size" --seed "$seed" --out "$f.tmp")
        mv "$f.tmp" "$f"
        printf '%s\n%s\n' "$want" "${line/$f.tmp/$f}" > "$f.info"
        echo "generated $(sed -n 2p "$f.info")"
        generated+=("$f")
    fi
    made=$f
}

echo "== machine"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //') ($threads threads)"
echo "kernel: $(uname -sr)"
echo "flowaudit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified)')"
for t in tshark tcpdump argus nfpcapd; do
    if have "$t"; then
        case $t in
            tshark) v=$(tshark -v 2>/dev/null | head -n1) ;;
            tcpdump) v=$(tcpdump --version 2>&1 | head -n1) ;;
            argus) v=$({ argus -h 2>&1 || true; } | grep -m1 -o 'Argus Version [0-9.]*' || true) ;;
            nfpcapd) v="nfpcapd $({ nfpcapd -V 2>&1 || true; } | grep -m1 -o '[0-9][0-9.]*' || true)" ;;
        esac
        echo "$t: $v"
    else
        echo "$t: not installed"
    fi
done

echo "== generating captures ($size, seed $seed)"
make_file mix
mix=$made
make_file small
small=$made

# nfpcapd 1.7 writes flow files to -w DIR; older releases spell it -l DIR.
nf_flag=-w
if have nfpcapd && ! nfpcapd -h 2>&1 | grep -q -- '-w flowdir'; then nf_flag=-l; fi

# The rows: label, then the command with @FILE@ standing for the capture. Exit codes accepted: 0,
# and 1 for the audit (findings).
rows=(
    "flowaudit flows, 1 thread|$fa flows --threads 1 --format csv @FILE@"
    "flowaudit audit, 1 thread|$fa audit --threads 1 @FILE@"
    "flowaudit flows, $threads threads|$fa flows --threads $threads --format csv @FILE@"
    "flowaudit audit, $threads threads|$fa audit --threads $threads @FILE@"
    "tshark -z conv,tcp -z conv,udp|tshark -q -z conv,tcp -z conv,udp -r @FILE@"
    "tcpdump -w /dev/null|tcpdump -r @FILE@ -w /dev/null"
    "argus -w /dev/null|argus -r @FILE@ -w /dev/null"
    "nfpcapd $nf_flag DIR|nfpcapd -r @FILE@ $nf_flag $work/nfdir"
    "dd bs=1M (plain read)|dd if=@FILE@ of=/dev/null bs=1M"
)

# run_once CMD PATH -> "microseconds rss_kib exit_code"
run_once() {
    local cmd=${1//@FILE@/$2} start end rc rss=-
    rm -rf "$work/nfdir" && mkdir -p "$work/nfdir"
    start=$(date +%s%N)
    if [ -n "$gnu_time" ]; then
        # shellcheck disable=SC2086 # the command is split into words on purpose
        $gnu_time -o "$work/time" -f '%M' $cmd > /dev/null 2> "$work/err" && rc=0 || rc=$?
        rss=$(tail -n1 "$work/time")
    else
        # shellcheck disable=SC2086
        $cmd > /dev/null 2> "$work/err" && rc=0 || rc=$?
    fi
    end=$(date +%s%N)
    echo "$(( (end - start) / 1000 )) $rss $rc"
}

median() { sort -n | awk '{v[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

compare_file() {
    local f=$1 label=$2 bytes packets
    bytes=$(stat -c %s "$f")
    packets=$(sed -n 2p "$f.info" | grep -o '[0-9]* packets' | cut -d' ' -f1)
    echo
    echo "== $label: $f, $bytes bytes, $packets packets, $runs runs each, page cache warm"
    dd if="$f" of=/dev/null bs=1M 2>/dev/null
    dd if="$f" of=/dev/null bs=1M 2>/dev/null
    local results=() ref=""
    for row in "${rows[@]}"; do
        local name=${row%%|*} cmd=${row#*|} tool
        tool=${cmd%% *}
        if [ "${tool#/}" = "$tool" ] && ! have "$tool"; then
            results+=("$name|not installed"); continue
        fi
        if [ "$tool" = tshark ] && [ "$tshark" = 0 ]; then
            results+=("$name|skipped (--no-tshark)"); continue
        fi
        local times=() rss_max=0 failed=""
        for _ in $(seq "$runs"); do
            read -r us rss rc < <(run_once "$cmd" "$f")
            if [ "$rc" != 0 ] && ! { [ "$rc" = 1 ] && [[ $cmd == *" audit "* ]]; }; then
                failed="failed (exit $rc: $(head -c 120 "$work/err" | tr '\n' ' '))"; break
            fi
            times+=("$us")
            if [ "$rss" != - ] && [ "$rss" -gt "$rss_max" ]; then rss_max=$rss; fi
        done
        if [ -n "$failed" ]; then results+=("$name|$failed"); continue; fi
        local med
        med=$(printf '%s\n' "${times[@]}" | median)
        [ -n "$gnu_time" ] || rss_max=-
        results+=("$name|$med|$rss_max")
        if [[ $name == "flowaudit audit, 1 thread" ]]; then ref=$med; fi
        printf '  %-36s %s\n' "$name" "$(printf '%s ' "${times[@]}" | awk '{for(i=1;i<=NF;i++) printf "%.3f ", $i/1e6}')s" >&2
    done
    printf '%-36s %10s %8s %8s %13s %12s\n' tool "median s" "GB/s" "Mpps" "peak RSS MiB" "x audit 1t"
    for r in "${results[@]}"; do
        IFS='|' read -r name med rss <<< "$r"
        if [ -z "${rss+x}" ] || [ -z "$rss" ]; then
            printf '%-36s %s\n' "$name" "$med"; continue
        fi
        awk -v n="$name" -v us="$med" -v rss="$rss" -v b="$bytes" -v p="$packets" -v ref="$ref" 'BEGIN {
            s = us / 1e6
            m = (rss == "-") ? "-" : sprintf("%.0f", rss / 1024)
            x = (ref == "" || ref == 0) ? "-" : sprintf("%.2f", us / ref)
            printf "%-36s %10.3f %8.2f %8.2f %13s %12s\n", n, s, b / s / 1e9, p / s / 1e6, m, x
        }'
    done
}

compare_file "$mix" "realistic mix"
compare_file "$small" "small packets"
echo
echo "x audit 1t: the row's median time over flowaudit audit --threads 1 (above 1: slower than flowaudit)."
[ "$keep" = 1 ] && echo "kept: $mix $small"
exit 0
