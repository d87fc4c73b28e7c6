#!/usr/bin/env bash
# Scale benchmark (issue 16): 1,000 shops, one month of orders, on SQLite and
# PostgreSQL. For each size and database, on a fresh database:
#   - `kpid ingest` of the orders CSV (one file): wall time → rows/s, peak RSS
#     (/usr/bin/time -v); then the refunds CSV (about 3% of paid orders);
#   - `kpid compute --month` for every shop (snapshots only, no people), and in
#     the same run the one aggregate query over the same orders
#     (COUNT, SUM, COUNT DISTINCT buyer … GROUP BY shop) through sqlite3 / psql;
#   - `kpid compute --month` again with 1,000 people (one per shop, a role of
#     order KPIs with targets): the snapshots (unchanged) plus 1,000 scorecards;
#   - checks: every row landed, the aggregate's totals are the generator's,
#     1,000 scorecards were written, and shop s0000's report equals its line
#     of the aggregate (the `check` column; any failed check: exit status 1);
#   - with XLSX=1, the same orders as one .xlsx file into another fresh database.
# Then prints a table. Figures from a loaded or shared machine are indicative.
#
#   bash benches/scale.sh                                   # 100k and 1M, both DBs
#   SIZES="100000 1000000 10000000" DESTS=sqlite bash benches/scale.sh
#   KPID=../main/target/release/kpid bash benches/scale.sh   # a given build
#
# Variables: SIZES (rows, default "100000 1000000"), DESTS ("sqlite postgres"),
# KPID (binary; default: cargo build --release --locked here), XLSX (1 or 0,
# default 1), XLSX_MAX (largest size also run as XLSX, default 1000000), SHOPS
# (1000), MONTH (2026-11), SEED (1), PG_ADMIN (a PostgreSQL URL whose server gets
# a scratch database, created and dropped), DATA (where generated files are
# kept and reused between runs, default /tmp/kpid-scale-data; deterministic, so
# builds compare on the same bytes), OUT (keep the run's logs and configurations
# in this directory instead of a temporary one removed at exit; the databases
# are dropped either way).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZES="${SIZES:-100000 1000000}"
DESTS="${DESTS:-sqlite postgres}"
XLSX="${XLSX:-1}"
XLSX_MAX="${XLSX_MAX:-1000000}"
SHOPS="${SHOPS:-1000}"
MONTH="${MONTH:-2026-11}"
SEED="${SEED:-1}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" # no NOTICE for DROP … IF EXISTS
DATA="${DATA:-/tmp/kpid-scale-data}"
GEN="$HERE/benches/gen_orders.py"

if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    KEEP_OUT=1
else
    OUT="$(mktemp -d /tmp/kpid-scale-XXXX)"
    KEEP_OUT=0
fi
PG_DB="kpid_scale_$$"
cleanup() {
    if [[ " $DESTS " == *" postgres "* ]]; then
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    [ "$KEEP_OUT" = 1 ] || rm -rf "$OUT"
}
trap cleanup EXIT

# --- tools -------------------------------------------------------------------
if [ -z "${KPID:-}" ]; then
    cargo build --release --locked -q --manifest-path "$HERE/Cargo.toml"
    KPID="$HERE/target/release/kpid"
fi
[ -x "$KPID" ] || { echo "scale: no kpid binary at $KPID" >&2; exit 1; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
if [[ " $DESTS " == *" sqlite "* ]] && ! command -v sqlite3 >/dev/null; then
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
fi
if [ "$XLSX" = 1 ] && ! python3 -c 'import openpyxl' 2>/dev/null; then
    pip install -q openpyxl >/dev/null 2>&1 || true
    if ! python3 -c 'import openpyxl' 2>/dev/null; then
        echo "scale: python module openpyxl is missing (pip install openpyxl): XLSX ingests skipped" >&2
        XLSX=0
    fi
fi
echo "scale: kpid $KPID ($("$KPID" --version 2>/dev/null || echo '?')), sizes $SIZES, dests $DESTS, xlsx $XLSX, out $OUT" >&2

# --- data ----------------------------------------------------------------------
# One folder per size (benches/orders_data.sh), plus the same orders as XLSX.
. "$HERE/benches/orders_data.sh"
generate() {
    local n="$1" d
    d="$(data_dir "$n")"
    generate_csv "$n" scale
    if [ "$XLSX" = 1 ] && [ "$n" -le "$XLSX_MAX" ] && [ ! -s "$d/xlsx/orders.xlsx" ]; then
        echo "scale: generating $n orders as XLSX in $d" >&2
        local tmp
        tmp="$(mktemp -d "$d/.gen-XXXX")"
        python3 "$GEN" --rows "$n" --shops "$SHOPS" --month "$MONTH" --seed "$SEED" --out "$tmp" --xlsx --no-csv >/dev/null
        mkdir -p "$d/xlsx"
        mv "$tmp/orders.xlsx" "$d/xlsx/orders.xlsx"
        rm -rf "$tmp"
    fi
}
expect() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1/expect.json" "$2"; }

# --- configuration ---------------------------------------------------------------
shop_id() { printf 's%04d' "$1"; }
# $1 file, $2 storage url, $3 data dir, $4 "people" to add people and their role
write_config() {
    local f="$1" url="$2" d="$3" people="${4:-}"
    {
        echo 'timezone = "Asia/Shanghai"'
        echo '[storage]'
        echo "url = \"$url\""
        for ((i = 0; i < SHOPS; i++)); do
            printf '[[shops]]\nid = "%s"\ncurrency = "CNY"\n' "$(shop_id "$i")"
        done
        printf '[[connectors]]\nname = "orders"\nkind = "csv"\nstream = "orders"\npath = "%s/orders/*.csv"\n' "$d"
        printf '[[connectors]]\nname = "refunds"\nkind = "csv"\nstream = "refunds"\npath = "%s/refunds/*.csv"\n' "$d"
        printf '[[connectors]]\nname = "orders-xlsx"\nkind = "xlsx"\nstream = "orders"\npath = "%s/xlsx/*.xlsx"\n' "$d"
        # Each shop its own GMV target (an agency's book), the rest shared.
        for ((i = 0; i < SHOPS; i++)); do
            printf '[[targets]]\nkpi = "gmv"\nshop = "%s"\nperiod = "*"\nvalue = "%d"\n' "$(shop_id "$i")" $((20000 + i * 37 % 50000))
        done
        printf '[[targets]]\nkpi = "orders"\nperiod = "*"\nvalue = "120"\n'
        printf '[[targets]]\nkpi = "aov"\nperiod = "*"\nvalue = "300"\n'
        printf '[[targets]]\nkpi = "refund_rate"\nperiod = "*"\nvalue = "0.03"\n'
        if [ "$people" = people ]; then
            echo '[[roles]]'
            echo 'id = "shop_manager"'
            echo 'name_zh = "店长"'
            echo 'kpis = [{ kpi = "gmv", weight = 40 }, { kpi = "orders", weight = 20 }, { kpi = "buyers", weight = 15 }, { kpi = "aov", weight = 15 }, { kpi = "refund_rate", weight = 10 }]'
            printf '[[targets]]\nkpi = "buyers"\nrole = "shop_manager"\nperiod = "*"\nvalue = "80"\n'
            for ((i = 0; i < SHOPS; i++)); do
                printf '[[people]]\nid = "p%04d"\nname = "Manager %d"\nrole = "shop_manager"\nshops = ["%s"]\n' "$i" "$i" "$(shop_id "$i")"
            done
        fi
    } >"$f"
}

# --- measuring -------------------------------------------------------------------
# timed NAME CMD...: runs CMD under /usr/bin/time -v, output in $OUT/NAME.log;
# sets WALL (s), RSS (MB) and CPU (s). A failure prints the log's end and stops the run.
timed() {
    local name="$1"
    shift
    if ! KPID_LOG=warn /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1; then
        echo "scale: $name failed: $*" >&2
        tail -20 "$OUT/$name.log" >&2
        exit 1
    fi
    WALL="$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$OUT/$name.time")"
    RSS="$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$OUT/$name.time")"
    # kpid's own CPU (user + system): steadier than wall time on a shared
    # machine, but blind to the time spent waiting on the database server.
    CPU="$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$OUT/$name.time")"
}
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
rate() { awk -v n="$1" -v w="$2" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }'; }

# sql DEST URL QUERY: rows as `a|b|c` lines.
sql() {
    case "$1" in
        sqlite) sqlite3 -batch "${2#sqlite://}" "$3" ;;
        postgres) psql "$2" -qAtX -F'|' -c "$3" ;;
    esac
}
fresh_db() {
    case "$1" in
        sqlite)
            rm -f "$OUT/$2.db" "$OUT/$2.db-wal" "$OUT/$2.db-shm"
            echo "sqlite://$OUT/$2.db" ;;
        postgres)
            psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
            echo "${PG_ADMIN%/*}/$PG_DB" ;;
    esac
}
migrate() {
    KPID_LOG=warn "$KPID" --config "$OUT/$1.toml" migrate >"$OUT/$1-migrate.log" 2>&1 ||
        { tail -20 "$OUT/$1-migrate.log" >&2; exit 1; }
}
drop_db() {
    case "$1" in
        sqlite) rm -f "$OUT/$2.db" "$OUT/$2.db-wal" "$OUT/$2.db-shm" ;;
        postgres) psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null ;;
    esac
}

LAST_DAY="$(python3 -c "import calendar; y, m = map(int, '$MONTH'.split('-')); print('$MONTH-%02d' % calendar.monthrange(y, m)[1])")"
AGG="SELECT shop, COUNT(*), SUM(amount_micros), COUNT(DISTINCT buyer_id) FROM orders
     WHERE status = 'paid' AND local_day BETWEEN '$MONTH-01' AND '$LAST_DAY' GROUP BY shop ORDER BY shop"

# --- the runs ----------------------------------------------------------------------
RESULTS="$OUT/results.tsv"
: >"$RESULTS"
for n in $SIZES; do
    generate "$n"
done
for n in $SIZES; do
    d="$(data_dir "$n")"
    for dest in $DESTS; do
        tag="$dest-$n"
        url="$(fresh_db "$dest" "$tag")"
        write_config "$OUT/$tag.toml" "$url" "$d"
        write_config "$OUT/$tag-people.toml" "$url" "$d" people
        migrate "$tag"

        timed "$tag-ingest" "$KPID" --config "$OUT/$tag.toml" ingest --connector orders
        ING_WALL="$WALL" ING_RSS="$RSS" ING_CPU="$CPU"
        timed "$tag-refunds" "$KPID" --config "$OUT/$tag.toml" ingest --connector refunds
        REF_WALL="$WALL"
        stored="$(sql "$dest" "$url" "SELECT COUNT(*) FROM orders")"
        refunds="$(sql "$dest" "$url" "SELECT COUNT(*) FROM refunds")"
        check=ok
        [ "$stored" = "$n" ] || check="orders:$stored/$n"
        [ "$refunds" = "$(expect "$d" refunds)" ] || check="$check,refunds:$refunds/$(expect "$d" refunds)"

        timed "$tag-compute" "$KPID" --config "$OUT/$tag.toml" compute --month "$MONTH"
        CMP_WALL="$WALL" CMP_RSS="$RSS" CMP_CPU="$CPU"
        t0="$(now_ns)"
        sql "$dest" "$url" "$AGG" >"$OUT/$tag-aggregate.txt"
        t1="$(now_ns)"
        AGG_WALL="$(secs "$t0" "$t1")"
        timed "$tag-scorecards" "$KPID" --config "$OUT/$tag-people.toml" compute --month "$MONTH"
        CARD_WALL="$WALL" CARD_CPU="$CPU"
        cards="$(grep -c '^scorecard ' "$OUT/$tag-scorecards.log" || true)"
        [ "$cards" = "$SHOPS" ] || check="$check,scorecards:$cards/$SHOPS"

        # The aggregate's totals against the generator's, and shop s0000's
        # report against the aggregate's line for it.
        paid="$(awk -F'|' '{ s += $2 } END { print s + 0 }' "$OUT/$tag-aggregate.txt")"
        [ "$paid" = "$(expect "$d" paid_orders)" ] || check="$check,paid:$paid/$(expect "$d" paid_orders)"
        "$KPID" --config "$OUT/$tag.toml" report --month "$MONTH" --shop s0000 --format json >"$OUT/$tag-report.json"
        line="$(grep '^s0000|' "$OUT/$tag-aggregate.txt")"
        same="$(python3 - "$OUT/$tag-report.json" "$line" <<'PY'
import json, sys
from decimal import Decimal
k = {x["id"]: x["value"] for x in json.load(open(sys.argv[1]), parse_float=Decimal)["kpis"]}
_, orders, micros, buyers = sys.argv[2].split("|")
got = (int(k["orders"]), Decimal(str(k["gmv"])), int(k["buyers"]))
want = (int(orders), Decimal(micros) / 1000000, int(buyers))
print("ok" if got == want else "report %s != aggregate %s" % (got, want))
PY
)"
        [ "$same" = ok ] || check="$check,s0000:${same// /_}"

        XL_RATE=- XL_RSS=-
        if [ "$XLSX" = 1 ] && [ "$n" -le "$XLSX_MAX" ]; then
            drop_db "$dest" "$tag"
            url="$(fresh_db "$dest" "$tag")"
            migrate "$tag"
            timed "$tag-xlsx" "$KPID" --config "$OUT/$tag.toml" ingest --connector orders-xlsx
            XL_RATE="$(rate "$n" "$WALL")" XL_RSS="$RSS"
            stored="$(sql "$dest" "$url" "SELECT COUNT(*) FROM orders")"
            [ "$stored" = "$n" ] || check="$check,xlsx:$stored/$n"
        fi
        drop_db "$dest" "$tag"

        ratio="$(awk -v c="$CMP_WALL" -v a="$AGG_WALL" 'BEGIN { printf "%.1f", (a > 0 ? c / a : 0) }')"
        echo "BENCH scale dest=$dest rows=$n ingest_s=$ING_WALL ingest_cpu_s=$ING_CPU ingest_rows_per_s=$(rate "$n" "$ING_WALL") ingest_rss_mb=$ING_RSS refunds_s=$REF_WALL compute_s=$CMP_WALL compute_cpu_s=$CMP_CPU compute_rss_mb=$CMP_RSS aggregate_s=$AGG_WALL compute_over_aggregate=$ratio compute_with_scorecards_s=$CARD_WALL compute_with_scorecards_cpu_s=$CARD_CPU xlsx_rows_per_s=$XL_RATE xlsx_rss_mb=$XL_RSS check=$check"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$dest" "$n" "$(rate "$n" "$ING_WALL") ($ING_CPU)" "$ING_RSS" \
            "$REF_WALL" "$CMP_WALL ($CMP_CPU)" "$AGG_WALL" "$ratio" "$CARD_WALL ($CARD_CPU)" "$XL_RATE" "$XL_RSS" "$check" >>"$RESULTS"
    done
done

echo
echo "| db | rows | CSV ingest rows/s (kpid CPU s) | peak RSS MB | refunds s | compute --month s (CPU s) | aggregate s | compute ÷ aggregate | with $SHOPS scorecards s (CPU s) | XLSX rows/s | XLSX peak RSS MB | check |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s× | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }' "$RESULTS"
grep -q $'\tok$' "$RESULTS" && ! grep -qv $'\tok$' "$RESULTS"
