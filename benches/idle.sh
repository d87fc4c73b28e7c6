#!/usr/bin/env bash
# Idle cost and start-up time of `kpid run` with 50 connectors on SQLite.
#   bash benches/idle.sh [IDLE_SECONDS]     (default 30)
#   KPID=/tmp/kpid-old bash benches/idle.sh   # a binary built before (no cargo build)
# Prints time from exec to /readyz 200, RSS after start-up and after the idle
# window, and CPU used while idle.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IDLE="${1:-30}"
OUT="$(mktemp -d /tmp/kpid-idle-XXXX)"
if [ -z "${KPID:-}" ]; then
    cargo build --release --locked -q --manifest-path "$HERE/Cargo.toml"
    KPID="$HERE/target/release/kpid"
fi
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
{
    echo 'timezone = "Asia/Shanghai"'
    echo "[storage]"; echo "url = \"sqlite://$OUT/kpid.db\""
    echo "[server]"; echo "listen = \"127.0.0.1:$PORT\""
    echo "[snapshot]"; echo "report_on_start = false"
    echo "[scheduler]"; echo "jitter_seconds = 60"
    echo "[[shops]]"; echo 'id = "shop"'
    for i in $(seq 1 50); do
        mkdir -p "$OUT/in/$i"
        echo "[[connectors]]"; echo "name = \"orders-$i\""; echo 'kind = "csv"'; echo 'stream = "orders"'
        echo 'shop = "shop"'; echo "path = \"$OUT/in/$i/*.csv\""; echo 'schedule = "*/15 * * * *"'
    done
} >"$OUT/kpid.toml"
"$KPID" --config "$OUT/kpid.toml" migrate >/dev/null   # migration cost is not start-up cost
T0="$(date +%s%N)"
KPID_LOG=warn "$KPID" --config "$OUT/kpid.toml" run 2>"$OUT/err" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do sleep 0.002; done
T1="$(date +%s%N)"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$PID/status"; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$PID/stat"; }
RSS0="$(rss)"; CPU0="$(cpu)"
sleep "$IDLE"
RSS1="$(rss)"; CPU1="$(cpu)"
kill -TERM $PID; wait $PID || true
awk -v t0="$T0" -v t1="$T1" -v r0="$RSS0" -v r1="$RSS1" -v c0="$CPU0" -v c1="$CPU1" -v idle="$IDLE" 'BEGIN {
    printf "BENCH idle connectors=50 ready_ms=%.0f rss_start_mb=%.1f rss_idle_mb=%.1f idle_cpu_s=%.2f idle_cpu_pct=%.3f over_s=%d\n",
        (t1 - t0) / 1e6, r0 / 1024, r1 / 1024, c1 - c0, 100 * (c1 - c0) / idle, idle }'
