# Sourced by scale.sh and nightly.sh: the generated orders and refunds CSVs,
# one folder per size, shared by both scripts so two builds (and the two
# benchmarks) read the same bytes. Needs DATA, GEN, SHOPS, MONTH and SEED set.
#
# Files are written under a temporary name and moved in, so a run stopped
# half-way (or another one at the same time) leaves no torn file. The
# generator's hash is in the name: a changed generator makes new files.
GEN_SUM="$(sha256sum "$GEN" | cut -c1-8)"
data_dir() { echo "$DATA/n$1-s$SHOPS-$MONTH-seed$SEED-$GEN_SUM"; }

# generate_csv ROWS LABEL: the folder of ROWS orders (orders/, refunds/,
# expect.json), generated when missing; LABEL prefixes the progress line.
generate_csv() {
    local n="$1" d tmp
    d="$(data_dir "$n")"
    mkdir -p "$d"
    if [ ! -s "$d/expect.json" ]; then
        echo "$2: generating $n orders in $d" >&2
        tmp="$(mktemp -d "$d/.gen-XXXX")"
        python3 "$GEN" --rows "$n" --shops "$SHOPS" --month "$MONTH" --seed "$SEED" --out "$tmp" >"$tmp/expect.json"
        mkdir -p "$d/orders" "$d/refunds"
        mv "$tmp/orders.csv" "$d/orders/orders.csv"
        mv "$tmp/refunds.csv" "$d/refunds/refunds.csv"
        mv "$tmp/expect.json" "$d/expect.json"
        rm -rf "$tmp"
    fi
}
