//! The per-record half of turning a page into a [`crate::facts::Batch`]: a
//! record that cannot be read or mapped is kept aside as a [`Reject`] with
//! its raw payload, and the rest of the page still lands.

use crate::facts::{Batch, FieldError, Order, OrderStatus, Refund, Reject};
use crate::ids::ShopId;
use crate::money::Money;
use crate::period::local_day;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
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

/// One page of a marketplace on its way to facts, on a blocking thread (so
/// it owns what it needs): the shop and zone its records belong to, the
/// call they came from and where the page is, for rejects.
#[derive(Debug, Clone)]
pub(crate) struct PageOf {
    pub shop: ShopId,
    pub tz: Tz,
    /// The call (API method or URL) a reject names as its source.
    pub source: String,
    /// Where the page is (`page 2`, a slice and page), for records without
    /// a usable id.
    pub place: String,
}

impl PageOf {
    /// The page's records read as `R` and made orders by `order`.
    pub fn orders<R: DeserializeOwned>(
        &self,
        raws: &[Box<RawValue>],
        naming: Naming,
        id: impl Fn(&R) -> Option<String>,
        order: impl Fn(&R) -> Result<Order, FieldError>,
    ) -> Batch {
        order_batch(map_typed(
            &self.source,
            raws,
            &self.place,
            naming,
            id,
            order,
        ))
    }

    /// The page's records read as `R` and made refunds by `refund` (`None`:
    /// no refund, yet).
    pub fn refunds<R: DeserializeOwned>(
        &self,
        raws: &[Box<RawValue>],
        naming: Naming,
        id: impl Fn(&R) -> Option<String>,
        refund: impl Fn(&R) -> Result<Option<Refund>, FieldError>,
    ) -> Batch {
        refund_batch(map_typed(
            &self.source,
            raws,
            &self.place,
            naming,
            id,
            refund,
        ))
    }

    /// An order of the page's shop counted at `at`, on that instant's local
    /// day in the shop's zone (no day while it has no time).
    pub fn order(
        &self,
        order_id: String,
        at: Option<DateTime<Utc>>,
        amount_micros: i64,
        buyer_id: Option<String>,
        status: OrderStatus,
    ) -> Order {
        Order {
            shop: self.shop.clone(),
            order_id,
            paid_at: at,
            local_day: at.map(|t| local_day(t, self.tz)),
            amount: Money::from_micros(amount_micros),
            buyer_id,
            status,
        }
    }

    /// A refund of the page's shop done at `at` (see [`Refund::done_at`]).
    pub fn refund(
        &self,
        refund_id: String,
        order_id: String,
        at: DateTime<Utc>,
        amount_micros: i64,
    ) -> Refund {
        Refund::done_at(&self.shop, self.tz, refund_id, order_id, at, amount_micros)
    }
}

#[cfg(test)]
impl PageOf {
    /// Page 1 of `source` for the shop `sh` in Shanghai, as the
    /// marketplaces' unit tests map it.
    pub fn test(source: &str) -> PageOf {
        PageOf {
            shop: "sh".into(),
            tz: chrono_tz::Asia::Shanghai,
            source: source.into(),
            place: "page 1".into(),
        }
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
