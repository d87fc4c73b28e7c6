//! Ids that travel through kpid: a shop's (`[[shops]] id`) and a KPI's
//! (`gmv`, `conversion_rate`, a custom KPI's name).
//!
//! Each is its own type so a shop id cannot be passed where a KPI id (or an
//! order id, a connector name) is meant. Both are `Arc<str>`: facts and
//! snapshots repeat the same few ids thousands of times, and a clone is a
//! reference count, not a copy. On the wire and in storage they are the
//! plain string: serde and sqlx see a `str`, so no format changes.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(id: impl Into<Arc<str>>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        // Shown as the string it is (`"sh1"`), as the `String` was.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        // A `&ShopId` goes where a `&str` is read (a query's bind, a log
        // field); the other way needs an explicit conversion, which is the point.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Maps keyed by the id are looked up with a `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.into())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s.into())
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> Self {
                $name(s.as_str().into())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                *self.0 == **other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name::from)
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        // Bound as an owned `String`: SQLite's `&str` encoding borrows for
        // the query's whole lifetime, longer than `&self` lives.
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode(self.0.to_string(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <&'r str as sqlx::Decode<'r, DB>>::decode(value).map($name::from)
            }
        }
    };
}

string_id! {
    /// A shop's id, as `[[shops]] id` names it.
    ShopId
}

string_id! {
    /// A KPI's id, as the catalogue names it.
    KpiId
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn ids_compare_show_and_look_up_as_their_string() {
        let id = ShopId::from("tmall-main");
        assert_eq!(id, "tmall-main");
        assert_eq!(id, *"tmall-main");
        assert_eq!(id, "tmall-main".to_string());
        assert_ne!(id, ShopId::from("jd"));
        assert_eq!(id.to_string(), "tmall-main");
        assert_eq!(format!("{id:?}"), "\"tmall-main\"");
        assert_eq!(String::from(id.clone()), "tmall-main");
        let mut m: HashMap<ShopId, i32> = HashMap::new();
        m.insert(id.clone(), 1);
        assert_eq!(m.get("tmall-main"), Some(&1));
        assert_eq!(m.get("jd"), None);
        let mut ids = vec![KpiId::from("gmv"), KpiId::from("aov")];
        ids.sort();
        assert_eq!(ids, ["aov", "gmv"]);
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = KpiId::from("conversion_rate");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"conversion_rate\"");
        let back: KpiId = serde_json::from_str("\"conversion_rate\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<ShopId>("3").is_err());
    }

    #[tokio::test]
    async fn ids_bind_and_read_as_text_in_sqlite() {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        let dir = tempfile::tempdir().unwrap();
        let pool = SqlitePoolOptions::new()
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(dir.path().join("ids.db"))
                    .create_if_missing(true),
            )
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (shop TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        let id = ShopId::from("订单-shop");
        sqlx::query("INSERT INTO t (shop) VALUES ($1)")
            .bind(&id)
            .execute(&pool)
            .await
            .unwrap();
        let text: String = sqlx::query_scalar("SELECT shop FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, "订单-shop");
        let back: ShopId = sqlx::query_scalar("SELECT shop FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, id);
    }
}
