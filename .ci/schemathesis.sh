#!/usr/bin/env bash
# The API contract check (issue 15): schemathesis, pinned, runs every check over every phase
# against `serve --devnet` with the admin key, and any failure or error fails CI.
#
#   bash .ci/schemathesis.sh       # builds the debug binary first (a no-op when it is current)
#
# Deterministic and bounded: --generation-deterministic (one fixed sequence of examples; the
# fixed seed serves runs with SCHEMATHESIS_DETERMINISTIC=0), a cap on examples per operation
# (SCHEMATHESIS_MAX_EXAMPLES, default 25), one worker, and a
# 5 s request timeout: the gateway runs with `api.max_wait_secs = 1`, so a long poll
# (`GET /v1/events?wait=`, whose maximum the document states from that setting) answers within
# it, and an event stream (`GET /v1/events/stream`, endless by design) is read for 5 s.
# .ci/schemathesis_hooks.py teaches schemathesis the document's custom formats and points
# community joins at the devnet's community server.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SEED=${SCHEMATHESIS_SEED:-20261206}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-25}
VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
BIN=target/debug/session-gateway

if [ ! -x "$VENV/bin/schemathesis" ] ||
    ! "$VENV/bin/schemathesis" --version | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin session-gateway

work=$(mktemp -d)
gateway=
cleanup() {
    if [ -n "$gateway" ]; then
        kill "$gateway" 2>/dev/null || true
        wait "$gateway" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

SESSION_GATEWAY__API__MAX_WAIT_SECS=1 "$BIN" serve --devnet --listen 127.0.0.1:0 \
    --data-dir "$work/data" >"$work/ready" 2>"$work/gateway.log" &
gateway=$!
for _ in $(seq 1 240); do
    [ -s "$work/ready" ] && break
    if ! kill -0 "$gateway" 2>/dev/null; then
        cat "$work/gateway.log" >&2
        echo "schemathesis: the gateway exited before it was ready" >&2
        exit 1
    fi
    sleep 0.25
done
if [ ! -s "$work/ready" ]; then
    echo "schemathesis: the gateway printed no ready line within 60 s" >&2
    exit 1
fi
# A field of the ready line, by its dotted path.
field() {
    python3 -c 'import functools, json, sys
print(functools.reduce(lambda d, k: d[k], sys.argv[2].split("."), json.load(open(sys.argv[1]))))' \
        "$work/ready" "$1"
}
api=$(field api)
key=$(cat "$work/data/admin_key")

export SCHEMATHESIS_HOOKS="$PWD/.ci/schemathesis_hooks.py"
SCHEMATHESIS_COMMUNITY_JOIN_URL=$(field community.join_url)
export SCHEMATHESIS_COMMUNITY_JOIN_URL

# From the scratch directory: schemathesis keeps its caches (.schemathesis/) in the working
# directory, which must not be the checkout.
schemathesis=$(realpath "$VENV/bin/schemathesis")
# Deterministic generation (schemathesis then ignores the seed); SCHEMATHESIS_DETERMINISTIC=0
# draws from the seed instead, to explore further.
deterministic=--generation-deterministic
[ "${SCHEMATHESIS_DETERMINISTIC:-1}" = 0 ] && deterministic=
status=0
(cd "$work" && "$schemathesis" run "$api/openapi.json" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --header "Authorization: Bearer $key" \
    --seed "$SEED" $deterministic \
    --max-examples "$MAX_EXAMPLES" \
    --workers 1 --request-timeout 5 \
    --no-color --output-truncate false) \
    || status=$?
if [ "$status" -ne 0 ]; then
    echo "schemathesis: failures or errors (exit $status); the gateway's log:" >&2
    tail -n 50 "$work/gateway.log" >&2
fi
exit "$status"
