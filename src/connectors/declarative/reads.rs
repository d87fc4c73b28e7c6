//! What a stream reads of a page: the [`Projection`] of a checked
//! [`StreamPlan`]. Kept apart from both so the plan holds a projection and
//! the projection knows nothing of plans (no cycle between the two).

use super::plan::{AmountPlan, DayPlan, FieldPlan, PageStyle, StreamPlan, TimePlan};
use super::projection::Projection;

/// What `Mapper::page` reads of a page of `stream`.
pub fn projection(stream: &StreamPlan) -> Projection {
    let (order, refunds, daily) = (&stream.order, &stream.refunds, &stream.daily);
    let mut record = Projection::default();
    // Pointers relative to the enclosing record (`../id`), collected
    // apart so an item's node and the record's can be borrowed together.
    let mut parent = Projection::default();
    if let Some(o) = order {
        field(&mut record, &mut parent, &o.id);
        time(&mut record, &mut parent, &o.paid_at);
        amount(&mut record, &mut parent, &o.amount);
        if let Some(b) = &o.buyer_id {
            field(&mut record, &mut parent, b);
        }
        if let Some(st) = &o.status {
            field(&mut record, &mut parent, &st.field);
            for (p, _) in &st.if_present {
                record.keep(p);
            }
        }
    }
    if let Some(r) = refunds {
        let mut item = Projection::default();
        field(&mut item, &mut parent, &r.id);
        field(&mut item, &mut parent, &r.order_id);
        time(&mut item, &mut parent, &r.refunded_at);
        amount(&mut item, &mut parent, &r.amount);
        match &r.each {
            None => record.merge(item),
            Some(each) => {
                if let Some(list) = record.node(each) {
                    list.each_mut().merge(item);
                }
            }
        }
    }
    if let Some(d) = daily {
        match &d.day {
            DayPlan::Date { field: f, .. } => field(&mut record, &mut parent, f),
            DayPlan::Instant(t) => time(&mut record, &mut parent, t),
        }
        if let Some(f) = &d.dimension {
            field(&mut record, &mut parent, f);
        }
        if let Some(f) = &d.until {
            field(&mut record, &mut parent, f);
        }
        for (_, a) in &d.inputs {
            amount(&mut record, &mut parent, a);
        }
    }
    // Outside a refund's `each` there is no parent and `../` reads
    // nothing; keeping those pointers anyway costs little.
    record.merge(parent);

    let mut root = Projection::default();
    if let Some(list) = root.node(&stream.records) {
        list.each_mut().merge(record);
    }
    let pagination = &stream.pagination;
    for p in [
        &pagination.total_pages,
        &pagination.total,
        &pagination.has_next,
    ]
    .into_iter()
    .flatten()
    {
        root.keep(p);
    }
    for p in [&stream.reports_zone, &stream.columns]
        .into_iter()
        .flatten()
    {
        root.keep(p);
    }
    match &pagination.style {
        PageStyle::Cursor { next } => root.keep(next),
        PageStyle::Token(token) => token.reads().iter().for_each(|p| root.keep(p)),
        _ => {}
    }
    root.finish();
    root
}

fn field(node: &mut Projection, parent: &mut Projection, f: &FieldPlan) {
    for p in &f.pointers {
        if p.parent {
            parent.keep(&p.path);
        } else {
            node.keep(&p.path);
        }
    }
}

fn time(node: &mut Projection, parent: &mut Projection, t: &TimePlan) {
    field(node, parent, &t.field);
}

/// With `sum`, the field and the filters are read in each listed item
/// (`../` still in the record); `minus` in the item itself.
fn amount(node: &mut Projection, parent: &mut Projection, a: &AmountPlan) {
    match &a.sum {
        None => field(node, parent, &a.field),
        Some(sum) => {
            if let Some(list) = node.node(&sum.each) {
                let item = list.each_mut();
                for (p, _) in &sum.filters {
                    item.keep(p);
                }
                field(item, parent, &a.field);
            }
        }
    }
    if let Some(m) = &a.minus {
        field(node, parent, m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::declarative::Definitions;
    use serde_json::json;

    fn stream(kind: &str) -> &'static StreamPlan {
        &Definitions::builtin().get(kind).unwrap().streams[0]
    }

    #[test]
    fn shopify_keeps_what_the_mapping_reads_and_skips_the_rest() {
        let page = json!({
            "orders": [{
                "id": 4501,
                "note": "gift",
                "line_items": [{"title": "mug", "price": "9.00"}],
                "processed_at": "2026-10-08T10:00:00+08:00",
                "total_price": "129.90",
                "customer": {"id": 77, "email": "a@b.c"},
                "financial_status": "paid",
                "cancelled_at": null,
                "refunds": [{
                    "id": 9,
                    "created_at": "2026-10-09T10:00:00+08:00",
                    "refund_line_items": [{"quantity": 1}],
                    "transactions": [
                        {"kind": "refund", "status": "success", "amount": "10.00", "gateway": "x"}
                    ]
                }]
            }],
            "extra": {"deep": [1, 2, 3]}
        });
        let p = &stream("shopify").projection;
        let got = p.parse(page.to_string().as_bytes()).unwrap();
        let want = json!({
            "orders": [{
                "id": 4501,
                "processed_at": "2026-10-08T10:00:00+08:00",
                "total_price": "129.90",
                "customer": {"id": 77},
                "financial_status": "paid",
                "cancelled_at": null,
                "refunds": [{
                    "id": 9,
                    "created_at": "2026-10-09T10:00:00+08:00",
                    // `sum` with its `where` pointers and the summed amount.
                    "transactions": [{"kind": "refund", "status": "success", "amount": "10.00"}]
                }]
            }]
        });
        assert_eq!(got, want);

        // With the order's id read from `/name`, `/id` stays only because a
        // refund's `order_id = "../id"` reads it in the enclosing order.
        let mut plan = stream("shopify").clone();
        plan.order.as_mut().unwrap().id.pointers[0].path = "/name".into();
        let got = projection(&plan)
            .parse(page.to_string().as_bytes())
            .unwrap();
        assert_eq!(got.pointer("/orders/0/id"), Some(&json!(4501)));
        assert_eq!(got.pointer("/orders/0/refunds/0/id"), Some(&json!(9)));
        plan.refunds.as_mut().unwrap().order_id.pointers[0].path = "/order_id".into();
        let got = projection(&plan)
            .parse(page.to_string().as_bytes())
            .unwrap();
        assert_eq!(got.pointer("/orders/0/id"), None);
    }

    #[test]
    fn index_segments_keep_their_element_in_place() {
        let page = json!({
            "rows": [{
                "dimensionValues": [{"value": "20261008", "oneValue": "x"}],
                "metricValues": [
                    {"value": "1"}, {"value": "2"}, {"value": "3"},
                    {"value": "4"}, {"value": "5"}, {"value": "6"}, {"value": "7"}
                ]
            }],
            "rowCount": 1,
            "metadata": {"currencyCode": "USD"}
        });
        // GA4 reads its metrics by name (`@name`); this is the positional
        // form (`/metricValues/3/value`) it had, which other APIs need.
        let mut plan = stream("ga4").clone();
        plan.columns = None;
        plan.reports_zone = None;
        let names = [
            "screenPageViews",
            "activeUsers",
            "newUsers",
            "sessions",
            "engagedSessions",
            "userEngagementDuration",
        ];
        for (_, a) in plan.daily.as_mut().unwrap().inputs.iter_mut() {
            for ptr in a
                .field
                .pointers
                .iter_mut()
                .chain(a.minus.iter_mut().flat_map(|m| m.pointers.iter_mut()))
            {
                for (i, n) in names.iter().enumerate() {
                    ptr.path = ptr.path.replace(&format!("@{n}"), &i.to_string()).into();
                }
            }
        }
        let p = &projection(&plan);
        let got = p.parse(page.to_string().as_bytes()).unwrap();
        assert_eq!(
            got.pointer("/rows/0/metricValues/5/value"),
            Some(&json!("6"))
        );
        assert_eq!(
            got.pointer("/rows/0/metricValues/6"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(got.pointer("/rows/0/dimensionValues/0/oneValue"), None);
        assert_eq!(got.pointer("/rowCount"), Some(&json!(1)));
        assert_eq!(got.pointer("/metadata"), None);
    }
}
