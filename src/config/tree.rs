//! A deserializer over a TOML tree whose error keeps in fields what serde
//! says in structure: a missing or unknown field arrives as
//! [`TreeError::MissingField`] or [`TreeError::UnknownField`] with its
//! name, rather than inside a message to be split (toml's own error keeps
//! only the text). It reads values the
//! way `toml::Value` does: integers as i64, a string or a one-key table as
//! an enum, every value as `Some` of an option.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use std::fmt;
use toml::Value;

/// Why a tree does not read as the type asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TreeError {
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// In serde's words, with the fields the table takes.
    #[error("unknown field `{field}`, {}", expected_fields(.expected))]
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    /// Anything else serde reports (wrong type, bad value), in serde's words.
    #[error("{0}")]
    Other(String),
}

/// What serde says a table takes: `a`, `a` or `b`, one of `a`, `b`, `c`.
fn expected_fields(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "there are no fields".to_string(),
        [one] => format!("expected {one}"),
        [a, b] => format!("expected {a} or {b}"),
        all => format!("expected one of {}", all.join(", ")),
    }
}

impl de::Error for TreeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TreeError::Other(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        TreeError::MissingField(field)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        TreeError::UnknownField {
            field: field.to_string(),
            expected,
        }
    }
}

/// A TOML value to deserialize from.
pub(crate) struct Tree(pub Value);

impl<'de> IntoDeserializer<'de, TreeError> for Tree {
    type Deserializer = Tree;

    fn into_deserializer(self) -> Tree {
        self
    }
}

impl<'de> de::Deserializer<'de> for Tree {
    type Error = TreeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.0 {
            Value::String(s) => visitor.visit_string(s),
            Value::Integer(i) => visitor.visit_i64(i),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Datetime(d) => visitor.visit_string(d.to_string()),
            Value::Array(items) => {
                let mut seq = de::value::SeqDeserializer::new(items.into_iter().map(Tree));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Table(table) => {
                let mut map =
                    de::value::MapDeserializer::new(table.into_iter().map(|(k, v)| (k, Tree(v))));
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    // TOML has no null: a value that is there is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            Value::Table(table) if table.len() == 1 => {
                let (variant, value) = table.into_iter().next().expect("one entry");
                visitor.visit_enum(Variant {
                    name: variant,
                    value: Tree(value),
                })
            }
            other => Tree(other).deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// `{ variant = value }`.
struct Variant {
    name: String,
    value: Tree,
}

impl<'de> de::EnumAccess<'de> for Variant {
    type Error = TreeError;
    type Variant = Tree;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Tree), TreeError> {
        let name: de::value::StringDeserializer<TreeError> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for Tree {
    type Error = TreeError;

    fn unit_variant(self) -> Result<(), TreeError> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, TreeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        size: Option<u32>,
        ratio: f64,
        mode: Mode,
        #[serde(default)]
        tags: Vec<String>,
    }

    fn read(text: &str) -> Result<Doc, TreeError> {
        Doc::deserialize(Tree(toml::from_str(text).unwrap()))
    }

    #[test]
    fn reads_what_toml_reads() {
        assert_eq!(
            read("name = \"a\"\nsize = 3\nratio = 2\nmode = \"slow\"\ntags = [\"x\"]\n"),
            Ok(Doc {
                name: "a".into(),
                size: Some(3),
                ratio: 2.0,
                mode: Mode::Slow,
                tags: vec!["x".into()],
            })
        );
    }

    #[test]
    fn a_missing_field_is_named_in_a_field_and_the_rest_in_serde_words() {
        assert_eq!(
            read("ratio = 1.5\nmode = \"fast\"\n"),
            Err(TreeError::MissingField("name"))
        );
        let e = read("name = \"a\"\nratio = 1\nmode = \"fast\"\nsize = -1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value: integer `-1`, expected u32",
            "{e:?}"
        );
        let e = read("name = \"a\"\nratio = 1\nmode = \"fast\"\nsise = 1\n").unwrap_err();
        assert_eq!(
            e,
            TreeError::UnknownField {
                field: "sise".into(),
                expected: &["name", "size", "ratio", "mode", "tags"],
            }
        );
        // serde's own words, as toml prints them.
        assert_eq!(
            e.to_string(),
            "unknown field `sise`, expected one of `name`, `size`, `ratio`, `mode`, `tags`"
        );
        let toml_says =
            toml::from_str::<Doc>("name = \"a\"\nratio = 1\nmode = \"fast\"\nsise = 1\n")
                .unwrap_err()
                .to_string();
        assert!(toml_says.contains(&e.to_string()), "{toml_says}");
        let e = read("name = \"a\"\nratio = 1\nmode = \"medium\"\n").unwrap_err();
        assert!(e.to_string().starts_with("unknown variant `medium`"), "{e}");
    }

    #[test]
    fn the_fields_a_table_takes_read_as_serde_writes_them() {
        assert_eq!(expected_fields(&[]), "there are no fields");
        assert_eq!(expected_fields(&["a"]), "expected `a`");
        assert_eq!(expected_fields(&["a", "b"]), "expected `a` or `b`");
        assert_eq!(
            expected_fields(&["a", "b", "c"]),
            "expected one of `a`, `b`, `c`"
        );
    }
}
