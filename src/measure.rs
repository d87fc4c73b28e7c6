//! What was measured against what: the numbers a snapshot line, a scorecard
//! line and an alert all keep. They sit below storage so that the stored
//! rows hold them as they are, and the layers above pass them on whole
//! instead of copying them field by field.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A value against its target. Attainment is worked out by
/// `scoring::attainment_of`; it is none without both a value and a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Measure {
    pub value: Option<Decimal>,
    pub target: Option<Decimal>,
    /// The value against the target, as a fraction.
    pub attainment: Option<Decimal>,
}

impl Measure {
    /// The same numbers without trailing zeros (`1.50` → `1.5`): the form
    /// stored revisions keep, so that a recomputed line equals the stored
    /// one when only the scale differs.
    pub fn normalized(self) -> Measure {
        let norm = |d: Option<Decimal>| d.map(|d| d.normalize());
        Measure {
            value: norm(self.value),
            target: norm(self.target),
            attainment: norm(self.attainment),
        }
    }
}

/// What one evaluation of an alert's rule saw: the measure (its target is
/// the full target of the period, before pro-rating; its attainment is the
/// value against the pro-rated target) and the effective value compared
/// with (e.g. pro-rated target × threshold). The observation, the stored
/// alert and the notice carry it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "ReadingKeys", into = "ReadingKeys")]
pub struct Reading {
    pub measure: Measure,
    pub threshold: Option<Decimal>,
}

/// A reading's keys as messages carry them (flattened into a notice): the
/// threshold between the target and the attainment, where queued messages
/// and webhook receivers have always had it.
#[derive(Serialize, Deserialize)]
struct ReadingKeys {
    value: Option<Decimal>,
    target: Option<Decimal>,
    threshold: Option<Decimal>,
    attainment: Option<Decimal>,
}

impl From<ReadingKeys> for Reading {
    fn from(k: ReadingKeys) -> Self {
        Reading {
            measure: Measure {
                value: k.value,
                target: k.target,
                attainment: k.attainment,
            },
            threshold: k.threshold,
        }
    }
}

impl From<Reading> for ReadingKeys {
    fn from(r: Reading) -> Self {
        let Measure {
            value,
            target,
            attainment,
        } = r.measure;
        ReadingKeys {
            value,
            target,
            threshold: r.threshold,
            attainment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dec as d;

    #[test]
    fn normalized_drops_trailing_zeros_and_keeps_missing_numbers_missing() {
        let m = Measure {
            value: Some(d("1.50")),
            target: None,
            attainment: Some(d("0.7500")),
        };
        let n = m.normalized();
        assert_eq!(n, m, "equal as numbers");
        assert_eq!(n.value.unwrap().to_string(), "1.5");
        assert_eq!(n.target, None);
        assert_eq!(n.attainment.unwrap().to_string(), "0.75");
    }

    #[test]
    fn a_reading_keeps_its_keys_in_order_and_comes_back_whole() {
        let r = Reading {
            measure: Measure {
                value: Some(d("8000")),
                target: Some(d("31000")),
                attainment: None,
            },
            threshold: Some(d("9000")),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"value":"8000","target":"31000","threshold":"9000","attainment":null}"#
        );
        assert_eq!(serde_json::from_str::<Reading>(&json).unwrap(), r);
    }
}
