#!/usr/bin/env bash
# Nightly tick benchmark (issue 16): the scheduled snapshot work of 1,000 shops
# in one zone, as the daemon does it. On a fresh database holding one month of
# orders and refunds (benches/gen_orders.py, the month before today's by
# default, so the nightly's year and, in a month's first week, its month-before
# periods read them), `kpid run` starts with `max_catchup_hours = 24`: its
# start-up catch-up runs exactly the one nightly tick missed in the last day,
# for every shop. Measured from the process start to the log line "scheduler
# running" (catch-up done), wall time and kpid's CPU seconds (user + system,
# from /proc just before SIGTERM), then:
#   - `start`: the same daemon started again with the start-up report on: the
#     catch-up finds every tick claimed, then each shop's last complete month
#     is computed and printed;
#   - checks: one `ok` run record per shop for the tick (`job_runs`).
# Each binary in KPIDS runs RUNS times back to back, alternating, on the same
# data (a fresh database each run), so a shared machine's noise hits both alike.
#
#   KPIDS="/tmp/kpid-before target/release/kpid" bash benches/nightly.sh
#   DESTS=postgres RUNS=3 ROWS=1000000 bash benches/nightly.sh
#
# Variables: KPIDS (binaries; default: cargo build --release --locked here),
# DESTS ("sqlite postgres"), RUNS (2), ROWS (100000), SHOPS (1000), MONTH
# (default: the month before the current one), SEED (1), PG_ADMIN, DATA (as in
# scale.sh), OUT (keep logs and configurations there).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DESTS="${DESTS:-sqlite postgres}"
RUNS="${RUNS:-2}"
ROWS="${ROWS:-100000}"
SHOPS="${SHOPS:-1000}"
MONTH="${MONTH:-$(python3 -c 'import datetime as d; t = d.date.today().replace(day=1) - d.timedelta(days=1); print(t.strftime("%Y-%m"))')}"
SEED="${SEED:-1}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
DATA="${DATA:-/tmp/kpid-scale-data}"
GEN="$HERE/benches/gen_orders.py"
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    KEEP_OUT=1
else
    OUT="$(mktemp -d /tmp/kpid-nightly-XXXX)"
    KEEP_OUT=0
fi
PG_DB="kpid_nightly_$$"
DAEMON=""
cleanup() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null || true
    if [[ " $DESTS " == *" postgres "* ]]; then
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    [ "$KEEP_OUT" = 1 ] || rm -rf "$OUT"
}
trap cleanup EXIT

if [ -z "${KPIDS:-}" ]; then
    cargo build --release --locked -q --manifest-path "$HERE/Cargo.toml"
    KPIDS="$HERE/target/release/kpid"
fi
if [[ " $DESTS " == *" sqlite "* ]] && ! command -v sqlite3 >/dev/null; then
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
fi

# The same data directory as scale.sh's for these arguments.
. "$HERE/benches/orders_data.sh"
generate_csv "$ROWS" nightly
D="$(data_dir "$ROWS")"

# $1 file, $2 storage url, $3 report_on_start (true/false)
write_config() {
    {
        echo 'timezone = "Asia/Shanghai"'
        echo '[storage]'
        echo "url = \"$2\""
        echo '[server]'
        echo 'listen = ""'
        echo '[snapshot]'
        echo 'schedule = "30 0 * * *"'
        echo "report_on_start = $3"
        echo '[scheduler]'
        echo 'max_catchup_hours = 24'
        for ((i = 0; i < SHOPS; i++)); do
            printf '[[shops]]\nid = "s%04d"\ncurrency = "CNY"\n' "$i"
        done
        printf '[[connectors]]\nname = "orders"\nkind = "csv"\nstream = "orders"\npath = "%s/orders/*.csv"\n' "$D"
        printf '[[connectors]]\nname = "refunds"\nkind = "csv"\nstream = "refunds"\npath = "%s/refunds/*.csv"\n' "$D"
        printf '[[targets]]\nkpi = "orders"\nperiod = "*"\nvalue = "120"\n'
        printf '[[targets]]\nkpi = "refund_rate"\nperiod = "*"\nvalue = "0.03"\n'
    } >"$1"
}

sql() {
    case "$1" in
        sqlite) sqlite3 -batch "${2#sqlite://}" "$3" ;;
        postgres) psql "$2" -qAtX -F'|' -c "$3" ;;
    esac
}
fresh_db() {
    case "$1" in
        sqlite)
            rm -f "$OUT/$2.db"*
            echo "sqlite://$OUT/$2.db" ;;
        postgres)
            psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
            echo "${PG_ADMIN%/*}/$PG_DB" ;;
    esac
}

# daemon KPID CONFIG NAME: starts `kpid run`, waits for "scheduler running",
# sets WALL (s) and CPU (s, user + system of the process so far), stops it.
daemon() {
    local kpid="$1" config="$2" name="$3" t0 t1 ticks stat
    t0="$(date +%s%N)"
    KPID_LOG=info "$kpid" --config "$config" run >"$OUT/$name.log" 2>&1 &
    DAEMON=$!
    until grep -qs "scheduler running" "$OUT/$name.log"; do
        if ! kill -0 "$DAEMON" 2>/dev/null; then
            echo "nightly: $name exited early" >&2
            tail -20 "$OUT/$name.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    t1="$(date +%s%N)"
    ticks="$(getconf CLK_TCK)"
    stat="$(cat "/proc/$DAEMON/stat")"
    CPU="$(echo "${stat##*) }" | awk -v hz="$ticks" '{ printf "%.2f", ($12 + $13) / hz }')"
    WALL="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')"
    kill -TERM "$DAEMON"
    wait "$DAEMON" || true
    DAEMON=""
}

RESULTS="$OUT/results.tsv"
: >"$RESULTS"
for dest in $DESTS; do
    for ((run = 1; run <= RUNS; run++)); do
        k=0
        for kpid in $KPIDS; do
            k=$((k + 1))
            tag="$dest-$run-k$k"
            url="$(fresh_db "$dest" "$tag")"
            write_config "$OUT/$tag.toml" "$url" false
            write_config "$OUT/$tag-report.toml" "$url" true
            KPID_LOG=warn "$kpid" --config "$OUT/$tag.toml" migrate >/dev/null
            KPID_LOG=warn "$kpid" --config "$OUT/$tag.toml" ingest --connector orders >/dev/null
            KPID_LOG=warn "$kpid" --config "$OUT/$tag.toml" ingest --connector refunds >/dev/null
            daemon "$kpid" "$OUT/$tag.toml" "$tag-nightly"
            N_WALL="$WALL" N_CPU="$CPU"
            ok="$(sql "$dest" "$url" "SELECT COUNT(*) FROM job_runs WHERE job LIKE 'snapshot:%' AND status = 'ok'")"
            ticks="$(sql "$dest" "$url" "SELECT COUNT(DISTINCT tick) FROM job_runs WHERE job LIKE 'snapshot:%'")"
            check=ok
            [ "$ok" = "$SHOPS" ] && [ "$ticks" = 1 ] || check="runs:$ok/$SHOPS,ticks:$ticks"
            daemon "$kpid" "$OUT/$tag-report.toml" "$tag-start"
            S_WALL="$WALL" S_CPU="$CPU"
            reports="$(grep -c ' — revision ' "$OUT/$tag-start.log" || true)"
            [ "$reports" = "$SHOPS" ] || check="$check,reports:$reports/$SHOPS"
            [ "$dest" = sqlite ] && rm -f "$OUT/$tag.db"*
            echo "BENCH nightly dest=$dest run=$run kpid=$kpid nightly_s=$N_WALL nightly_cpu_s=$N_CPU start_report_s=$S_WALL start_report_cpu_s=$S_CPU check=$check"
            printf '%s\t%s\t%s\t%s (%s)\t%s (%s)\t%s\n' "$dest" "$run" "$kpid" "$N_WALL" "$N_CPU" "$S_WALL" "$S_CPU" "$check" >>"$RESULTS"
        done
    done
done

echo
echo "| db | run | kpid | nightly tick, $SHOPS shops: s (kpid CPU s) | restart with report: s (CPU s) | check |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$RESULTS"
! grep -qv $'\tok$' "$RESULTS"
