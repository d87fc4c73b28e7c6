//! The per-record half of turning a page into a [`crate::facts::Batch`]: a
//! record that cannot be read or mapped is kept aside as a [`Reject`] with
//! its raw payload, and the rest of the page still lands.

use crate::facts::{Batch, FieldError, Order, Refund, Reject};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// Why one record was not taken: where it is, when the record names itself
/// (an order or campaign id, a day), and the reason.
pub(crate) type Rejected = (Option<String>, String);

/// Maps each record of a page with `fact`. A record `fact` refuses becomes a
/// reject of `source`, located where the refusal says or, failing that, at
/// `place(i)` — its place on the page (`i` counts from 0).
pub(crate) fn map_records<T>(
    source: &str,
    raws: &[Box<RawValue>],
    place: impl Fn(usize) -> String,
    mut fact: impl FnMut(&str) -> Result<T, Rejected>,
) -> (Vec<T>, Vec<Reject>) {
    let mut facts = Vec::with_capacity(raws.len());
    let mut rejects = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        match fact(raw.get()) {
            Ok(f) => facts.push(f),
            Err((locator, reason)) => rejects.push(Reject {
                source: source.to_string(),
                locator: locator.unwrap_or_else(|| place(i)),
                reason,
                raw: raw.get().to_string(),
            }),
        }
    }
    (facts, rejects)
}

/// How a kind of record is named in rejects: `read` before a decoding
/// error (`after-sale: …`), `named` before the id a record gives itself
/// (`refund 7`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Naming {
    pub read: &'static str,
    pub named: &'static str,
}

pub(crate) const ORDER: Naming = Naming {
    read: "order",
    named: "order",
};
pub(crate) const REFUND: Naming = Naming {
    read: "refund",
    named: "refund",
};
/// An after-sales record, set aside as the refund it names.
pub(crate) const AFTER_SALE: Naming = Naming {
    read: "after-sale",
    named: "refund",
};

/// [`map_records`] for records read as `R` and mapped by `fact`: a record
/// that is no `R`, or that `fact` refuses, is set aside under the id `id`
/// finds in it, else as its place on the page `page` (`page 2 record 5`).
pub(crate) fn map_typed<R: DeserializeOwned, T>(
    source: &str,
    raws: &[Box<RawValue>],
    page: &str,
    naming: Naming,
    id: impl Fn(&R) -> Option<String>,
    fact: impl Fn(&R) -> Result<T, FieldError>,
) -> (Vec<T>, Vec<Reject>) {
    map_records(
        source,
        raws,
        |i| format!("{page} record {}", i + 1),
        |raw| {
            let r: R =
                serde_json::from_str(raw).map_err(|e| (None, format!("{}: {e}", naming.read)))?;
            fact(&r).map_err(|e| {
                let at = id(&r).map(|id| format!("{} {id}", naming.named));
                (at, e.to_string())
            })
        },
    )
}

/// A page of orders as a batch.
pub(crate) fn order_batch((orders, rejects): (Vec<Order>, Vec<Reject>)) -> Batch {
    Batch {
        orders,
        rejects,
        ..Batch::default()
    }
}

/// A page of refunds as a batch; `None` is a record that is no refund (yet).
pub(crate) fn refund_batch((refunds, rejects): (Vec<Option<Refund>>, Vec<Reject>)) -> Batch {
    Batch {
        refunds: refunds.into_iter().flatten().collect(),
        rejects,
        ..Batch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(texts: &[&str]) -> Vec<Box<RawValue>> {
        texts
            .iter()
            .map(|t| RawValue::from_string(t.to_string()).unwrap())
            .collect()
    }

    #[test]
    fn bad_records_are_kept_aside_and_the_rest_land() {
        let page = raws(&["1", "\"x\"", "{\"id\":7}", "3"]);
        let (facts, rejects) = map_records(
            "src",
            &page,
            |i| format!("record {}", i + 1),
            |raw| match serde_json::from_str::<i64>(raw) {
                Ok(n) => Ok(n * 10),
                Err(_) if raw.contains("id") => Err((Some("id 7".into()), "an object".into())),
                Err(e) => Err((None, e.to_string())),
            },
        );
        assert_eq!(facts, vec![10, 30]);
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].locator, "record 2");
        assert_eq!(rejects[0].raw, "\"x\"");
        assert_eq!(rejects[0].source, "src");
        assert_eq!(rejects[1].locator, "id 7");
        assert_eq!(rejects[1].reason, "an object");
        assert_eq!(rejects[1].raw, "{\"id\":7}");
    }
}
