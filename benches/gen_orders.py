#!/usr/bin/env python3
"""Deterministic order and refund exports for benches/scale.sh.

    python3 benches/gen_orders.py --rows 1000000 --shops 1000 --month 2026-11 \
        --out DIR [--xlsx [--no-csv]] [--seed 1]

Writes DIR/orders.csv (order_id,shop,paid_at,amount,buyer_id,status: local
times in the shops' zone, amounts with cents), DIR/refunds.csv (about 3% of the
paid orders, refunded 0-3 days later within the month, at most the order's
amount), with --xlsx also DIR/orders.xlsx (same rows, openpyxl write-only), and
prints one JSON line: the expected totals, so the bench can check what landed.

No `random`: every field is a cheap integer hash of the row number and the seed,
so 10M rows take seconds, and the same arguments give the same bytes.
"""

import argparse
import calendar
import json
import os
import sys

MASK = (1 << 64) - 1


def mix(x):
    """splitmix64's finaliser: a well-spread 64-bit hash of x."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def rows(n, shops, year, month, seed):
    """Yields (order_id, shop, paid_at, amount_cents, buyer, status, refund).

    Rows come in time order (order ids rising with it). Shops get uneven
    volumes (a few big ones, many small, as an agency's book looks): the
    shop is the hash squared onto [0, shops). Each shop's buyers
    repeat (about 1.5 orders per buyer). 94% paid, 3% cancelled, 2% unpaid,
    1% closed; 3% of the paid ones get a refund (`refund` is (days later,
    cents) or None).
    """
    days = calendar.monthrange(year, month)[1]
    per_shop = max(1, n // shops)
    buyers = max(1, per_shop * 2 // 3)
    prefix = "%04d-%02d-" % (year, month)
    base = seed * 0x1000000000
    total = days * 86400
    step = max(1, total // n)
    for i in range(n):
        h = mix(base + i)
        u = (h & 0xFFFF) / 65536.0
        shop = int(u * u * shops)
        # In time order, as platforms export: the month split evenly over
        # the rows, each row somewhere in its own slice.
        t = i * total // n + ((h >> 16) & 0xFFFFFF) % step
        day = 1 + t // 86400
        sec = t % 86400
        h2 = h >> 40
        # 9.90 .. 999.99, cents varied; skewed to small baskets.
        r = h2 % 100000
        h2 //= 100000
        cents = 990 + (r * r) // 101020
        g = mix(h)  # a second word for the rest
        buyer = g % buyers
        g //= buyers
        s = g % 100
        g //= 100
        if s < 94:
            status = "paid"
        elif s < 97:
            status = "cancelled"
        elif s < 99:
            status = "unpaid"
        else:
            status = "closed"
        refund = None
        if status == "paid" and g % 100 < 3:
            later = min(days - day, (g >> 8) % 4)
            part = 1 + (g >> 12) % 100  # percent of the order refunded
            refund = (later, max(1, cents * part // 100))
        paid_at = "%s%02d %02d:%02d:%02d" % (prefix, day, sec // 3600, sec // 60 % 60, sec % 60)
        yield ("O%09d" % i, "s%04d" % shop, paid_at, cents, "b%06d" % buyer, status, refund)


def money(cents):
    return "%d.%02d" % (cents // 100, cents % 100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--shops", type=int, default=1000)
    ap.add_argument("--month", default="2026-11")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--xlsx", action="store_true", help="also write orders.xlsx")
    ap.add_argument("--no-csv", action="store_true", help="write no CSV files (with --xlsx)")
    a = ap.parse_args()
    year, month = (int(x) for x in a.month.split("-"))
    os.makedirs(a.out, exist_ok=True)

    sheet = wb = None
    if a.xlsx:
        from openpyxl import Workbook  # only needed for --xlsx

        wb = Workbook(write_only=True)
        sheet = wb.create_sheet("orders")
        sheet.append(["order_id", "shop", "paid_at", "amount", "buyer_id", "status"])

    paid = paid_cents = refunds = refund_cents = 0
    path = (lambda name: os.devnull) if a.no_csv else (lambda name: os.path.join(a.out, name))
    with open(path("orders.csv"), "w", newline="") as o, open(
        path("refunds.csv"), "w", newline=""
    ) as r:
        o.write("order_id,shop,paid_at,amount,buyer_id,status\n")
        r.write("refund_id,order_id,shop,refunded_at,amount\n")
        ow, rw = o.write, r.write
        for oid, shop, paid_at, cents, buyer, status, refund in rows(
            a.rows, a.shops, year, month, a.seed
        ):
            amount = money(cents)
            ow("%s,%s,%s,%s,%s,%s\n" % (oid, shop, paid_at, amount, buyer, status))
            if sheet is not None:
                # Amounts as numbers and times as text, as platform exports do.
                sheet.append([oid, shop, paid_at, cents / 100, buyer, status])
            if status == "paid":
                paid += 1
                paid_cents += cents
            if refund is not None:
                later, rc = refund
                day = int(paid_at[8:10]) + later
                at = "%s%02d%s" % (paid_at[:8], day, paid_at[10:])
                rw("R%s,%s,%s,%s,%s\n" % (oid[1:], oid, shop, at, money(rc)))
                refunds += 1
                refund_cents += rc
    if wb is not None:
        wb.save(os.path.join(a.out, "orders.xlsx"))
    json.dump(
        {
            "rows": a.rows,
            "paid_orders": paid,
            "paid_gmv_micros": paid_cents * 10000,
            "refunds": refunds,
            "refund_micros": refund_cents * 10000,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
