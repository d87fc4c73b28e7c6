#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md with two builds back to back, on the same
# data and in the same minutes, so a shared machine's load hits both alike:
# the Shopify peer (definition or module, through peer_shopify.sh), the scale
# test (scale.sh: CSV ingest, compute, scorecards), the nightly tick
# (nightly.sh) and the idle daemon (idle.sh). Each script prints its own table.
#
#   bash benches/side_by_side.sh /tmp/kpid-before target/release/kpid
#
# Variables: DESTS ("sqlite postgres"), SHOPIFY_N (100000), SHOPIFY_RUNS (3),
# SCALE_SIZES ("100000 1000000"), SCALE_ROUNDS (2), NIGHTLY_ROWS (100000),
# NIGHTLY_RUNS (2), IDLE_SECONDS (30), ONLY (a subset of "shopify scale
# nightly idle").
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
BEFORE="$(realpath "$1")"
AFTER="$(realpath "$2")"
for k in "$BEFORE" "$AFTER"; do [ -x "$k" ] || { echo "side_by_side: no binary at $k" >&2; exit 2; }; done
DESTS="${DESTS:-sqlite postgres}"
ONLY="${ONLY:-shopify scale nightly idle}"
wants() { [[ " $ONLY " == *" $1 "* ]]; }
say() { echo; echo "=== $* ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"; }

if wants shopify; then
    say "Shopify peer: ${SHOPIFY_N:-100000} orders, ${SHOPIFY_RUNS:-3} runs each"
    KPIDS="$BEFORE $AFTER" RUNS="${SHOPIFY_RUNS:-3}" DESTS="$DESTS" \
        bash "$HERE/peer_shopify.sh" "${SHOPIFY_N:-100000}"
fi
if wants scale; then
    for round in $(seq 1 "${SCALE_ROUNDS:-2}"); do
        for k in "$BEFORE" "$AFTER"; do
            say "scale, round $round: $k"
            KPID="$k" SIZES="${SCALE_SIZES:-100000 1000000}" DESTS="$DESTS" XLSX=0 \
                bash "$HERE/scale.sh"
        done
    done
fi
if wants nightly; then
    say "nightly tick: ${NIGHTLY_ROWS:-100000} orders, ${NIGHTLY_RUNS:-2} runs each"
    KPIDS="$BEFORE $AFTER" RUNS="${NIGHTLY_RUNS:-2}" ROWS="${NIGHTLY_ROWS:-100000}" DESTS="$DESTS" \
        bash "$HERE/nightly.sh"
fi
if wants idle; then
    for k in "$BEFORE" "$AFTER"; do
        say "idle: $k"
        KPID="$k" bash "$HERE/idle.sh" "${IDLE_SECONDS:-30}"
    done
fi
