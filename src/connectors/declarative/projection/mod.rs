//! The parts of a response page a stream's mapping can read, and a parser
//! that builds only those. Building a whole page as a `Value` (ordered maps,
//! exact numbers) costs more than the mapping itself on wide records such
//! as Shopify orders; keys outside the projection are skipped unbuilt.
//!
//! A pointer's end is kept whole, so a read returns the same value as on the
//! full page. Arrays keep their length (unread elements become `null`), so
//! index segments (`/metricValues/0/value`) point at the same element.
//! Streamed records are built as [`Node`]s, which borrow from the page.

use super::tree::{same_key, Node};
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
    /// `keys` as a list, set by `finish`, for the parse's lookup of every
    /// key of a page: it compares bytes only where the lengths match, where
    /// the map's ordered search compared several keys' bytes per page key
    /// (the largest cost left on Shopify's wide orders).
    lookup: Vec<(Box<str>, Projection)>,
    /// Bit `n` set: some key of `lookup` is `n` bytes long (64 and more
    /// share bit 63). Most of a wide record's keys have a length no
    /// projected key has and are skipped without a comparison.
    lengths: u64,
}

/// The bit of [`Projection::lengths`] for a key of `len` bytes.
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// The tokens of a JSON pointer as `Value::pointer` reads them; `None` for
/// a pointer that reads nothing (neither empty nor starting with `/`).
pub(super) fn tokens(pointer: &str) -> Option<Vec<String>> {
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
    /// The node at `pointer`, made if missing; `None` if it reads nothing.
    pub(super) fn node(&mut self, pointer: &str) -> Option<&mut Projection> {
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

    pub(super) fn keep(&mut self, pointer: &str) {
        if let Some(n) = self.node(pointer) {
            n.whole = true;
        }
    }

    pub(super) fn each_mut(&mut self) -> &mut Projection {
        self.each.get_or_insert_default()
    }

    pub(super) fn merge(&mut self, other: Projection) {
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
    pub(super) fn finish(&mut self) {
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
        self.lookup = self
            .keys
            .iter()
            .map(|(k, v)| (k.as_str().into(), v.clone()))
            .collect();
        self.lengths = self
            .keys
            .keys()
            .fold(0, |bits, k| bits | length_bit(k.len()));
    }

    /// What is read below the object key `key` (as the page spells it).
    fn child(&self, key: &[u8]) -> Option<&Projection> {
        if self.lengths & length_bit(key.len()) == 0 {
            return None;
        }
        self.lookup
            .iter()
            .find(|(k, _)| same_key(k.as_bytes(), key))
            .map(|(_, p)| p)
    }

    /// The page with only the projected parts built.
    pub fn parse(&self, bytes: &[u8]) -> Result<Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = self.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    /// [`Projection::parse`], except that the list at `records` (a
    /// pointer's tokens) is not kept: each element is built and handed to
    /// `each` in turn, and the list's place holds an empty list. The second
    /// value is how many elements were handed over; `None` when the page
    /// has no list there (a `null`, another value, or no such key), which
    /// the tree then shows as it is.
    pub fn parse_streaming<'de>(
        &self,
        bytes: &'de [u8],
        records: &[String],
        each: &mut dyn FnMut(Node<'de>),
    ) -> Result<(Value, Option<usize>), serde_json::Error> {
        let mut count = None;
        let seed = Seed {
            node: self,
            stream: Some(Stream {
                path: records,
                each,
                count: &mut count,
            }),
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = seed.deserialize(&mut de)?;
        de.end()?;
        Ok((value, count))
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
        Seed {
            node: self,
            stream: None,
        }
        .deserialize(d)
    }
}

/// Where records are handed over instead of kept ([`Projection::parse_streaming`]).
struct Stream<'a, 'f, 'de> {
    /// The tokens left to the list of records.
    path: &'a [String],
    each: &'f mut dyn FnMut(Node<'de>),
    count: &'f mut Option<usize>,
}

/// A node to build, with the way to the streamed records when they are below it.
struct Seed<'a, 'f, 'de> {
    node: &'a Projection,
    stream: Option<Stream<'a, 'f, 'de>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, 'de> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.node.whole && self.stream.is_none() {
            Value::deserialize(d)
        } else {
            d.deserialize_any(Pruned {
                node: self.node,
                stream: self.stream,
            })
        }
    }
}

/// `serde_json`'s marker key of an `arbitrary_precision` number, which the
/// parser hands over as a one-entry map.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

struct Pruned<'a, 'f, 'de> {
    node: &'a Projection,
    stream: Option<Stream<'a, 'f, 'de>>,
}

/// Scalars are built as `Value`'s own visitor builds them.
impl<'de> Visitor<'de> for Pruned<'_, '_, 'de> {
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
        Seed {
            node: self.node,
            stream: self.stream,
        }
        .deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if let Some(Stream {
            path: [],
            each,
            count,
        }) = self.stream
        {
            let mut n = 0;
            loop {
                let next = match self.node.element(n) {
                    Some(p) => seq.next_element_seed(Build::of(p))?,
                    None => seq.next_element::<IgnoredAny>()?.map(|_| Node::Null),
                };
                match next {
                    Some(v) => {
                        each(v);
                        n += 1;
                    }
                    None => {
                        *count = Some(n);
                        return Ok(Value::Array(Vec::new()));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let next = match self.node.element(out.len()) {
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
        if *first == *NUMBER_TOKEN.as_bytes() {
            let text: String = map.next_value()?;
            return text
                .parse::<Number>()
                .map(Value::Number)
                .map_err(de::Error::custom);
        }
        let mut out = Map::new();
        let mut key = Some(first);
        let mut stream = self.stream;
        while let Some(k) = key {
            match self.node.child(&k) {
                Some(p)
                    if stream.as_ref().is_some_and(|s| {
                        s.path.first().is_some_and(|t| t.as_bytes() == k.as_ref())
                    }) =>
                {
                    let s = stream.take().expect("checked above");
                    let v = map.next_value_seed(Seed {
                        node: p,
                        stream: Some(Stream {
                            path: &s.path[1..],
                            each: s.each,
                            count: s.count,
                        }),
                    })?;
                    out.insert(key_text(k)?.into_owned(), v);
                }
                Some(p) => {
                    let v = map.next_value_seed(p)?;
                    out.insert(key_text(k)?.into_owned(), v);
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

/// Builds a streamed record as a [`Node`], the same parts as `Pruned`
/// builds as a `Value`; `None` builds everything (a pointer's end).
#[derive(Clone, Copy)]
struct Build<'a>(Option<&'a Projection>);

impl<'a> Build<'a> {
    fn of(p: &'a Projection) -> Self {
        Build((!p.whole).then_some(p))
    }
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Signed(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Unsigned(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Number::from_f64(v).map_or(Node::Null, |n| Node::Number(n.to_string().into())))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Text(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Text(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut out = Vec::new();
        loop {
            let child = match self.0 {
                None => Some(self),
                Some(p) => p.element(out.len()).map(Build::of),
            };
            let next = match child {
                Some(c) => seq.next_element_seed(c)?,
                // Unread, but kept in place so later indices stay right.
                None => seq.next_element::<IgnoredAny>()?.map(|_| Node::Null),
            };
            match next {
                Some(v) => out.push(v),
                None => return Ok(Node::List(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let Some(first) = map.next_key_seed(Key)? else {
            return Ok(Node::Object(Vec::new()));
        };
        if *first == *NUMBER_TOKEN.as_bytes() {
            // The parser's own scan of a number: kept as written, with no
            // second check of its syntax.
            let text: String = map.next_value()?;
            return Ok(Node::Number(Cow::Owned(text)));
        }
        // One allocation for the few projected members.
        let mut out: Vec<(Cow<'de, str>, Node<'de>)> =
            Vec::with_capacity(self.0.map_or(4, |p| p.lookup.len()));
        let mut key = Some(first);
        while let Some(k) = key {
            let child = match self.0 {
                None => Some(self),
                Some(p) => p.child(&k).map(Build::of),
            };
            match child {
                Some(c) => {
                    // A repeated key is kept twice; `Node::key` reads from the
                    // end, so the last one counts, as in a `Value`. Searching
                    // the members on every push cost a comparison per pair.
                    out.push((key_text(k)?, map.next_value_seed(c)?));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            key = map.next_key_seed(Key)?;
        }
        Ok(Node::Object(out))
    }
}

/// An object key as the page spells it, borrowed when it has no escapes.
/// Read as bytes: most keys of a wide record (Shopify's orders have about
/// forty) are only compared with the projected ones and skipped, and
/// checking each as text cost 7 % of an ingest. A key that is kept is
/// checked by [`key_text`].
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, [u8]>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, [u8]>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_vec()))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }

    // The parser hands the key of an `arbitrary_precision` number's map
    // (`NUMBER_TOKEN`) over as text, whatever was asked for.
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v.as_bytes()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.as_bytes().to_vec()))
    }
}

/// A kept key as text, held to what `serde_json` asks of a key it reads as
/// a string: UTF-8 (an escape such as a lone surrogate does not make one)
/// and no raw control character.
fn key_text<E: de::Error>(key: Cow<'_, [u8]>) -> Result<Cow<'_, str>, E> {
    if key.iter().any(|b| *b < 0x20) {
        return Err(E::custom("control character in an object key"));
    }
    let invalid = |e: std::str::Utf8Error| E::custom(format!("object key is not UTF-8: {e}"));
    Ok(match key {
        Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).map_err(invalid)?),
        Cow::Owned(b) => Cow::Owned(String::from_utf8(b).map_err(|e| invalid(e.utf8_error()))?),
    })
}

#[cfg(test)]
mod tests;
