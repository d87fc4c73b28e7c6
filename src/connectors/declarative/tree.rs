//! What a record's fields are read from: a `serde_json::Value` (a page read
//! whole) or a [`Node`], the lighter tree the projection builds while a page
//! streams. A `Value` object is an ordered hash map with owned keys and
//! strings; building one per record cost the definitions more CPU than the
//! Rust modules' typed structs (issue 15). A `Node` borrows its keys and
//! strings from the page and keeps an object's few projected keys in a list.

use serde_json::Value;
use std::borrow::Cow;

/// Why a pointer's target gives no text: it is not a scalar. A plain
/// enum, so reading a record allocates nothing until a reason is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAValue {
    #[error("is a list, not a value")]
    List,
    #[error("is an object, not a value")]
    Object,
    #[error("is null")]
    Null,
}

/// A JSON tree the mapping can read with pointers.
pub(super) trait Tree: Sized {
    /// The member `key` of an object.
    fn key(&self, key: &str) -> Option<&Self>;
    /// The elements of a list.
    fn list(&self) -> Option<&[Self]>;
    fn is_null(&self) -> bool;
    /// A scalar's text: strings as they are, numbers exactly as written.
    fn text(&self) -> Result<Cow<'_, str>, NotAValue>;
    /// The raw JSON kept with a reject.
    fn raw(&self) -> String;
}

impl Tree for Value {
    fn key(&self, key: &str) -> Option<&Self> {
        match self {
            Value::Object(map) => map.get(key),
            _ => None,
        }
    }

    fn list(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }

    fn is_null(&self) -> bool {
        self.is_null()
    }

    fn text(&self) -> Result<Cow<'_, str>, NotAValue> {
        match self {
            Value::String(s) => Ok(Cow::Borrowed(s)),
            Value::Number(n) => Ok(Cow::Owned(n.to_string())),
            Value::Bool(b) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
            Value::Array(_) => Err(NotAValue::List),
            Value::Object(_) => Err(NotAValue::Object),
            Value::Null => Err(NotAValue::Null),
        }
    }

    fn raw(&self) -> String {
        self.to_string()
    }
}

/// `a == b` for object keys, which are short and mostly differ in their
/// first byte: the lengths and that byte are compared before the bytes, so
/// most keys that differ cost no `memcmp` call (perf showed `memcmp` at twice
/// the Rust module's share of the Shopify definition's ingest).
#[inline]
pub(super) fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.first() == b.first() && a == b
}

/// A projected part of a page, borrowing from the page's bytes where the
/// text has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'de> {
    Null,
    Bool(bool),
    Text(Cow<'de, str>),
    /// As written (`arbitrary_precision`).
    Number(Cow<'de, str>),
    /// A whole number that fits, written out only when read: an id read
    /// as text is then made once, not made and copied.
    Unsigned(u64),
    Signed(i64),
    List(Vec<Node<'de>>),
    /// The projected members only, in page order.
    Object(Vec<(Cow<'de, str>, Node<'de>)>),
}

impl Tree for Node<'_> {
    fn key(&self, key: &str) -> Option<&Self> {
        match self {
            // From the end: a repeated key's last value counts, as in a
            // `Value` (the parse keeps every projected member it meets).
            Node::Object(members) => members
                .iter()
                .rfind(|(k, _)| same_key(k.as_bytes(), key.as_bytes()))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn list(&self) -> Option<&[Self]> {
        match self {
            Node::List(l) => Some(l),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    fn text(&self) -> Result<Cow<'_, str>, NotAValue> {
        match self {
            Node::Text(s) | Node::Number(s) => Ok(Cow::Borrowed(s)),
            Node::Unsigned(n) => Ok(Cow::Owned(n.to_string())),
            Node::Signed(n) => Ok(Cow::Owned(n.to_string())),
            Node::Bool(b) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
            Node::List(_) => Err(NotAValue::List),
            Node::Object(_) => Err(NotAValue::Object),
            Node::Null => Err(NotAValue::Null),
        }
    }

    /// Never kept: a page with a reject is mapped again from its full JSON
    /// (`Mapper::page`), so the reject holds the record's whole text.
    fn raw(&self) -> String {
        String::new()
    }
}
