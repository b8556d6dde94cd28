#!/usr/bin/env bash
# A fuzzing campaign (issue 14): each target given (all of them when none is) runs until 10
# million executions or CPU_CAP seconds of its own CPU time (default 1,800: 30 minutes of
# fuzzing however long that takes on a shared machine), at `nice -n 19`, from its corpus
# (fuzz/seed.py writes the seeds). A log per target goes to LOG_DIR (default fuzz/logs/), with
# libFuzzer's final stats and a last line `exit <code> cpu <seconds> s end <time>`.
#
# SANITIZER (default none: the gateway has no unsafe code, and without AddressSanitizer a target
# runs 2-3 times as many executions a second; debug assertions and overflow checks stay on)
# is passed to `cargo fuzz build -s`. Run two campaigns side by side to use two cores.
#
#   fuzz/campaign.sh envelope onion_layer        # or: CPU_CAP=60 fuzz/campaign.sh
set -euo pipefail
cd "$(dirname "$0")"

cap=${CPU_CAP:-1800}
runs=${RUNS:-10000000}
logs=${LOG_DIR:-logs}
sanitizer=${SANITIZER:-none}
rustc --version | grep -q nightly || export RUSTC_BOOTSTRAP=1
mkdir -p "$logs"

cargo fuzz build -s "$sanitizer"
bin=target/x86_64-unknown-linux-gnu/release
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

for target in "${targets[@]}"; do
    log="$logs/$target.log"
    mkdir -p "artifacts/$target" "corpus/$target"
    echo "start $(date +%T) cpu cap ${cap} s, ${runs} runs, sanitizer ${sanitizer}" >"$log"
    nice -n 19 "$bin/$target" -artifact_prefix="artifacts/$target/" -runs="$runs" \
        -max_total_time=360000 -rss_limit_mb=4096 -print_final_stats=1 "corpus/$target" \
        >>"$log" 2>&1 &
    pid=$!
    cpu=0
    # libFuzzer caps wall time only; the CPU cap is kept here from /proc (utime + stime).
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        now=$(awk '{printf "%d", ($14 + $15) / 100}' "/proc/$pid/stat" 2>/dev/null) || break
        [ -n "$now" ] && cpu=$now
        if [ "$cpu" -ge "$cap" ]; then
            kill -INT "$pid"
            break
        fi
    done
    rc=0
    wait "$pid" || rc=$?
    echo "exit ${rc} cpu ${cpu} s end $(date +%T)" >>"$log"
    # 0: the runs were done; 72: interrupted at the CPU cap. Anything else is a finding.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 72 ]; then
        echo "fuzz campaign: ${target} FAILED (exit ${rc}); its input is under fuzz/artifacts/${target}/" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    echo "fuzz campaign: ${target}: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs, ${cpu} s CPU"
done
