//! The parts of a response page a stream's mapping can read, and a parser
//! that builds only those. Building a whole page as a `Value` (ordered maps,
//! exact numbers) costs more than the mapping itself on wide records such
//! as Shopify orders; keys outside the projection are skipped unbuilt.
//!
//! A pointer's end is kept whole, so a read returns the same value as on the
//! full page. Arrays keep their length (unread elements become `null`), so
//! index segments (`/metricValues/0/value`) point at the same element.

use super::plan::{AmountPlan, DayPlan, FieldPlan, PageStyle, StreamPlan, TimePlan};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// A node of the tree of readable keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// Read as a value (a pointer ends here): built in full.
    whole: bool,
    /// Object keys read below this node (or array indices, as text).
    keys: BTreeMap<String, Projection>,
    /// What is read in every element of a list here (records, `each`, `sum`).
    each: Option<Box<Projection>>,
    /// Some key is an array index: elements look themselves up by index.
    index_keys: bool,
}

/// The tokens of a JSON pointer as `Value::pointer` reads them; `None` for
/// a pointer that reads nothing (neither empty nor starting with `/`).
fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// `Value::pointer`'s rule for an array index token.
fn is_index(t: &str) -> bool {
    !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit())
        && (t == "0" || !t.starts_with('0'))
        && t.parse::<usize>().is_ok()
}

impl Projection {
    /// What `Mapper::page` reads of a page of `stream`.
    pub fn of(stream: &StreamPlan) -> Projection {
        let (order, refunds, daily) = (&stream.order, &stream.refunds, &stream.daily);
        let mut record = Projection::default();
        // Pointers relative to the enclosing record (`../id`), collected
        // apart so an item's node and the record's can be borrowed together.
        let mut parent = Projection::default();
        if let Some(o) = order {
            record.field(&mut parent, &o.id);
            record.time(&mut parent, &o.paid_at);
            record.amount(&mut parent, &o.amount);
            if let Some(b) = &o.buyer_id {
                record.field(&mut parent, b);
            }
            if let Some(st) = &o.status {
                record.field(&mut parent, &st.field);
                for (p, _) in &st.if_present {
                    record.keep(p);
                }
            }
        }
        if let Some(r) = refunds {
            let mut item = Projection::default();
            item.field(&mut parent, &r.id);
            item.field(&mut parent, &r.order_id);
            item.time(&mut parent, &r.refunded_at);
            item.amount(&mut parent, &r.amount);
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
                DayPlan::Date { field, .. } => record.field(&mut parent, field),
                DayPlan::Instant(t) => record.time(&mut parent, t),
            }
            if let Some(f) = &d.dimension {
                record.field(&mut parent, f);
            }
            for (_, a) in &d.inputs {
                record.amount(&mut parent, a);
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
        if let PageStyle::Cursor { next } = &pagination.style {
            root.keep(next);
        }
        for p in [&stream.reports_zone, &stream.columns]
            .into_iter()
            .flatten()
        {
            root.keep(p);
        }
        root.finish();
        root
    }

    /// The node at `pointer`, made if missing; `None` if it reads nothing.
    fn node(&mut self, pointer: &str) -> Option<&mut Projection> {
        let mut n = self;
        for t in tokens(pointer)? {
            // `@name` is a column's index, which only the page tells.
            n = if t.starts_with('@') {
                n.each_mut()
            } else {
                n.keys.entry(t).or_default()
            };
        }
        Some(n)
    }

    fn keep(&mut self, pointer: &str) {
        if let Some(n) = self.node(pointer) {
            n.whole = true;
        }
    }

    fn each_mut(&mut self) -> &mut Projection {
        self.each.get_or_insert_default()
    }

    fn field(&mut self, parent: &mut Projection, f: &FieldPlan) {
        for p in &f.pointers {
            if p.parent {
                parent.keep(&p.path);
            } else {
                self.keep(&p.path);
            }
        }
    }

    fn time(&mut self, parent: &mut Projection, t: &TimePlan) {
        self.field(parent, &t.field);
    }

    /// With `sum`, the field and the filters are read in each listed item
    /// (`../` still in the record); `minus` in the item itself.
    fn amount(&mut self, parent: &mut Projection, a: &AmountPlan) {
        match &a.sum {
            None => self.field(parent, &a.field),
            Some(sum) => {
                if let Some(list) = self.node(&sum.each) {
                    let item = list.each_mut();
                    for (p, _) in &sum.filters {
                        item.keep(p);
                    }
                    item.field(parent, &a.field);
                }
            }
        }
        if let Some(m) = &a.minus {
            self.field(parent, m);
        }
    }

    fn merge(&mut self, other: Projection) {
        self.whole |= other.whole;
        for (k, v) in other.keys {
            self.keys.entry(k).or_default().merge(v);
        }
        if let Some(e) = other.each {
            self.each_mut().merge(*e);
        }
    }

    /// An element read by index is also read as every element: merge the
    /// two once here rather than per element while parsing.
    fn finish(&mut self) {
        self.index_keys = self.keys.keys().any(|k| is_index(k));
        if let (true, Some(each)) = (self.index_keys, &self.each) {
            let each = (**each).clone();
            for (k, v) in self.keys.iter_mut() {
                if is_index(k) {
                    v.merge(each.clone());
                }
            }
        }
        self.keys.values_mut().for_each(Projection::finish);
        if let Some(e) = &mut self.each {
            e.finish();
        }
    }

    /// The page with only the projected parts built.
    pub fn parse(&self, bytes: &[u8]) -> Result<Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = self.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    fn element(&self, i: usize) -> Option<&Projection> {
        if self.index_keys {
            if let Some(n) = self.keys.get(&i.to_string()) {
                return Some(n);
            }
        }
        self.each.as_deref()
    }
}

impl<'de> DeserializeSeed<'de> for &Projection {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.whole {
            Value::deserialize(d)
        } else {
            d.deserialize_any(Pruned(self))
        }
    }
}

/// `serde_json`'s marker key of an `arbitrary_precision` number, which the
/// parser hands over as a one-entry map.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

struct Pruned<'a>(&'a Projection);

/// Scalars are built as `Value`'s own visitor builds them.
impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.0.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let next = match self.0.element(out.len()) {
                Some(p) => seq.next_element_seed(p)?,
                // Unread, but kept in place so later indices stay right.
                None => seq.next_element::<IgnoredAny>()?.map(|_| Value::Null),
            };
            match next {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(first) = map.next_key_seed(Key)? else {
            return Ok(Value::Object(Map::new()));
        };
        if first == NUMBER_TOKEN {
            let text: String = map.next_value()?;
            return text
                .parse::<Number>()
                .map(Value::Number)
                .map_err(de::Error::custom);
        }
        let mut out = Map::new();
        let mut key = Some(first);
        while let Some(k) = key {
            match self.0.keys.get(k.as_ref()) {
                Some(p) => {
                    let v = map.next_value_seed(p)?;
                    out.insert(k.into_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            key = map.next_key_seed(Key)?;
        }
        Ok(Value::Object(out))
    }
}

/// An object key, borrowed from the page when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
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
        let got = Projection::of(&plan)
            .parse(page.to_string().as_bytes())
            .unwrap();
        assert_eq!(got.pointer("/orders/0/id"), Some(&json!(4501)));
        assert_eq!(got.pointer("/orders/0/refunds/0/id"), Some(&json!(9)));
        plan.refunds.as_mut().unwrap().order_id.pointers[0].path = "/order_id".into();
        let got = Projection::of(&plan)
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
        // GA4 reads its metrics by name now; this is the positional form
        // (`/metricValues/3/value`) it had, which other APIs need.
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
                    ptr.path = ptr.path.replace(&format!("@{n}"), &i.to_string());
                }
            }
        }
        let p = &Projection::of(&plan);
        let got = p.parse(page.to_string().as_bytes()).unwrap();
        assert_eq!(
            got.pointer("/rows/0/metricValues/5/value"),
            Some(&json!("6"))
        );
        assert_eq!(got.pointer("/rows/0/metricValues/6"), Some(&Value::Null));
        assert_eq!(got.pointer("/rows/0/dimensionValues/0/oneValue"), None);
        assert_eq!(got.pointer("/rowCount"), Some(&json!(1)));
        assert_eq!(got.pointer("/metadata"), None);
    }

    #[test]
    fn kept_values_are_exact_and_unexpected_shapes_survive() {
        let p = &stream("shopify").projection;
        // A 20-digit id and a decimal stay as written (`arbitrary_precision`),
        // also where a list was expected but a number came.
        let text = r#"{"orders":[{"id":12345678901234567890123,"total_price":0.10,
            "refunds":7,"customer":"c"}],"x":1e400}"#;
        let got = p.parse(text.as_bytes()).unwrap();
        let full: Value = serde_json::from_str(text).unwrap();
        assert_eq!(got["orders"][0], full["orders"][0]);
        assert_eq!(
            got["orders"][0]["id"].to_string(),
            "12345678901234567890123"
        );
        // Records that are not a list come through as they are.
        let odd = p.parse(br#"{"orders":{"id":1},"other":[]}"#).unwrap();
        assert_eq!(odd, json!({"orders": {}}));
        assert!(p.parse(br#"{"orders":[]} x"#).is_err());
        assert!(p.parse(br#"{"orders":["#).is_err());
    }
}
