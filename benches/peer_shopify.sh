#!/usr/bin/env bash
# Peer benchmark: kpid ingesting N orders from ../shared/peer-bench/mock_shop.py
# into SQLite and PostgreSQL, measured like dlt in ../shared/peer-bench/bench.sh
# (wall time and peak RSS under /usr/bin/time -v), then checked day by day
# against the mock's /expected.json through kpid's own reports.
#
#   bash benches/peer_shopify.sh [N]             # default 100000
#   DESTS="sqlite" bash benches/peer_shopify.sh 10000
#   WITH_DLT=1 bash benches/peer_shopify.sh      # also run dlt (jsonl) in the same session
#   KINDS="shopify shopify_rest" bash benches/peer_shopify.sh   # kinds side by side, then a table
#   KPID=/tmp/kpid-old bash benches/peer_shopify.sh   # a binary built before (no cargo build)
#   KPIDS="/tmp/kpid-old target/release/kpid" RUNS=3 bash benches/peer_shopify.sh
#       # binaries back to back against one mock (its start takes a minute at 100k),
#       # each run of each binary checked day by day
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER="${PEER:-$HERE/../shared/peer-bench}"
N="${1:-100000}"
DESTS="${DESTS:-sqlite postgres}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
KINDS="${KINDS:-shopify}"
CONCURRENCY="${CONCURRENCY:-4}"
OUT="$(mktemp -d /tmp/kpid-bench-XXXX)"

RUNS="${RUNS:-1}"
if [ -z "${KPIDS:-}" ]; then
    if [ -z "${KPID:-}" ]; then
        cargo build --release --locked -q --manifest-path "$HERE/Cargo.toml"
        KPID="$HERE/target/release/kpid"
    fi
    KPIDS="$KPID"
fi

python3 "$PEER/mock_shop.py" --host 127.0.0.1 --port 0 --orders "$N" >"$OUT/mock.out" 2>"$OUT/mock.err" &
MOCK=$!
trap 'kill $MOCK 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q '^PORT=' "$OUT/mock.out" 2>/dev/null && break; sleep 0.2; done
PORT="$(sed -n 's/^PORT=//p' "$OUT/mock.out")"
BASE="http://127.0.0.1:$PORT"
cat "$OUT/mock.err" >&2
curl -s "$BASE/expected.json" >"$OUT/expected.json"
FROM="$(python3 -c "import json;print(json.load(open('$OUT/expected.json'))['created_at_min'][:10])")"
TO="$(python3 -c "import json;print(json.load(open('$OUT/expected.json'))['created_at_max'][:10])")"

TABLE="$OUT/table"
for run in $(seq 1 "$RUNS"); do
for kind in $KINDS; do
for dest in $DESTS; do
for KPID in $KPIDS; do
    case "$dest" in
        sqlite) URL="sqlite://$OUT/kpid.db" ;;
        postgres)
            DB="kpid_bench_$$"
            psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
            URL="${PG_ADMIN%/*}/$DB" ;;
    esac
    cat >"$OUT/$dest.toml" <<TOML
timezone = "Asia/Shanghai"
[storage]
url = "$URL"
[[shops]]
id = "mock"
[[connectors]]
name = "shopify"
kind = "$kind"
shop = "mock"
base_url = "$BASE"
access_token_env = "BENCH_SHOPIFY_TOKEN"
requests_per_second = 0
concurrency = $CONCURRENCY
TOML
    "$KPID" --config "$OUT/$dest.toml" migrate >/dev/null
    BENCH_SHOPIFY_TOKEN=shpat_mock_token KPID_LOG=warn /usr/bin/time -v -o "$OUT/$dest.time" \
        "$KPID" --config "$OUT/$dest.toml" ingest --from "$FROM" --to "$TO" >"$OUT/$dest.log"
    WALL="$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$OUT/$dest.time")"
    RSS="$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$OUT/$dest.time")"
    # CPU seconds (user + system): steadier than wall time on a shared machine.
    CPU="$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$OUT/$dest.time")"
    # Check every day through kpid's own KPI engine.
    RESULT="$(python3 - "$KPID" "$OUT/$dest.toml" "$OUT/expected.json" <<'PY'
import json, subprocess, sys
kpid, cfg, exp = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
bad = 0
for d in exp["days"]:
    subprocess.run([kpid, "--config", cfg, "compute", "--day", d["day"]], check=True, capture_output=True)
    out = subprocess.run([kpid, "--config", cfg, "report", "--day", d["day"], "--shop", "mock", "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    from decimal import Decimal
    k = {x["id"]: x["value"] for x in json.loads(out, parse_float=Decimal)["kpis"]}
    got = (int(k["orders"]), int(k["buyers"]), Decimal(str(k["gmv"])))
    want = (d["paid_orders"], d["paid_buyers"], Decimal(d["paid_gmv"]))
    if got != want:
        bad += 1
        print("  day %s: kpid %s, expected %s" % (d["day"], got, want), file=sys.stderr)
print("PASS" if bad == 0 else "FAIL (%d days differ)" % bad)
PY
)"
    OPS="$(awk -v n="$N" -v w="$WALL" 'BEGIN { printf "%.0f", n / w }')"
    echo "BENCH tool=kpid bin=$KPID run=$run kind=$kind dest=$dest orders=$N wall_s=$WALL cpu_s=$CPU rss_mb=$RSS orders_per_s=$OPS result=$RESULT"
    echo "| $KPID | $kind | $dest | $N | $WALL | $CPU | $RSS | $OPS | $RESULT |" >>"$TABLE"
    if [ "$dest" = postgres ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; fi
    if [ "$dest" = sqlite ]; then rm -f "$OUT/kpid.db" "$OUT/kpid.db-wal" "$OUT/kpid.db-shm"; fi
done
done
done
done
echo
echo "| binary | kind | dest | orders | wall s | CPU s | peak RSS MB | orders/s | days |"
echo "|---|---|---|---:|---:|---:|---:|---:|---|"
cat "$TABLE"
kill $MOCK 2>/dev/null || true
if [ "${WITH_DLT:-0}" = 1 ]; then
    FILE_FORMAT=jsonl bash "$PEER/bench.sh" "$N" | grep '^BENCH' || true
fi
