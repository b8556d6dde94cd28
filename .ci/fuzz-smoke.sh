#!/usr/bin/env bash
# Fuzz smoke (issue 14): every cargo-fuzz target in fuzz/ runs for FUZZ_SMOKE_SECS seconds
# (default 15; 0 skips) from its seed corpus (fuzz/seed.py writes it from tests/vectors); a crash fails
# CI and leaves its input under fuzz/artifacts/<target>/.
#
# cargo-fuzz needs a compiler that takes -Z flags (sanitizer coverage). This machine kind has
# only the stable toolchain: it is used with RUSTC_BOOTSTRAP=1, which unlocks the same flags
# (a nightly default toolchain is used as it is). cargo-fuzz itself is installed
# from crates.io at a pinned version when missing. When none of that works, this says so
# plainly and skips: the smoke is a bonus on top of the property tests `cargo test` runs.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SMOKE_SECS:-15}
cargo_fuzz_version=0.13.1

skip() {
    echo "fuzz smoke SKIPPED: $*" >&2
    exit 0
}

[ "${secs}" -gt 0 ] || skip "FUZZ_SMOKE_SECS=0"

if ! cargo fuzz --version 2>/dev/null | grep -q " ${cargo_fuzz_version}"; then
    echo "fuzz smoke: installing cargo-fuzz ${cargo_fuzz_version} from crates.io"
    cargo install cargo-fuzz --version "${cargo_fuzz_version}" --locked \
        || skip "cargo-fuzz ${cargo_fuzz_version} could not be installed from crates.io"
fi

# The default toolchain, as for the rest of CI (another toolchain would mean another cold
# build of every dependency).
if rustc --version | grep -q nightly; then
    echo "fuzz smoke: using $(rustc --version)"
else
    export RUSTC_BOOTSTRAP=1
    echo "fuzz smoke: using $(rustc --version) with RUSTC_BOOTSTRAP=1"
fi
# The flags cargo-fuzz passes must be accepted, or there is nothing to run.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'fn main() {}' >"$probe/probe.rs"
rustc -Zsanitizer=address -Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 -o "$probe/probe" "$probe/probe.rs" >/dev/null 2>&1 \
    || skip "the compiler refuses the sanitizer-coverage flags cargo-fuzz needs"

python3 fuzz/seed.py

started=$(date +%s)
cd fuzz
cargo fuzz build
built=$(date +%s)
echo "fuzz smoke: targets built in $((built - started)) s"
for target in $(cargo fuzz list); do
    log="${probe}/${target}.log"
    if ! cargo fuzz run "${target}" -- \
        -max_total_time="${secs}" -rss_limit_mb=4096 -print_final_stats=1 >"${log}" 2>&1; then
        tail -n 40 "${log}" >&2
        echo "fuzz smoke: ${target} FAILED (its input is under fuzz/artifacts/${target}/)" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}")
    cov=$(grep -E '^#[0-9]+' "${log}" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
    echo "fuzz smoke: ${target}: ${runs:-?} runs in ${secs} s, ${cov:-no coverage line}"
done
echo "fuzz smoke: done in $(($(date +%s) - started)) s"
