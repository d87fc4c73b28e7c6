//! Reading a TOML tree into typed configuration without stopping at the
//! first problem.
//!
//! serde stops at the first error. Here each error is recorded under its key
//! path (from `serde_path_to_error`), the tree is repaired so that error
//! cannot recur — the offending key taken out, or a placeholder put in for a
//! missing one — and the tree is read again, until it reads cleanly. Nothing
//! here knows the configuration's sections: any `Deserialize` type, a new
//! section included, gets every problem of a file in one run.

use super::tree::{Tree, TreeError};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use toml::Value;

/// One step of a key path: a table key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted key path as kpid prints it: `connectors[1].skip_rows`.
pub(crate) fn key_text(segs: &[Seg]) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// `connectors[1].columns.amount` as its steps.
pub(crate) fn parse_key(key: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in key.split('.') {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
            segs.push(Seg::Key(name.to_string()));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                segs.push(Seg::Index(i));
            }
        }
    }
    segs
}

/// Whether `key` is `prefix` or lies below it (`a.b[0]` is below `a.b`).
pub(crate) fn is_under(key: &str, prefix: &str) -> bool {
    key == prefix
        || key
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// A problem found while reading: where, and what serde said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub key: String,
    pub message: String,
    /// The value read at `key`, when it is a number, string or boolean.
    pub value: Option<String>,
}

impl Found {
    /// The message, with the value read hidden when it is a credential's.
    pub fn message_hiding(&self, secret: impl Fn(&str) -> bool) -> String {
        let last = self.key.rsplit(['.', ']']).next().unwrap_or(&self.key);
        match &self.value {
            Some(v) if secret(last) && !v.is_empty() => self.message.replace(v.as_str(), "***"),
            _ => self.message.clone(),
        }
    }
}

/// Values tried in turn for a missing required key, so the rest of its
/// table can still be read (problems under that key are then not reported).
fn placeholders() -> [Value; 5] {
    [
        Value::String(String::new()),
        Value::Integer(0),
        Value::Boolean(false),
        Value::Array(Vec::new()),
        Value::Table(toml::Table::new()),
    ]
}

/// Most repairs tried before giving up on a typed result.
const MAX_REPAIRS: usize = 10_000;

/// Reads `T` from `tree`, returning it (when the repaired tree reads) and
/// every problem found. `texts` holds keys whose value came as text from an
/// environment variable and was read as a number or boolean: where the
/// field wants a string, that text is used instead, silently.
pub(crate) fn deserialize_all<T: DeserializeOwned>(
    mut tree: Value,
    texts: &BTreeMap<String, String>,
) -> (Option<T>, Vec<Found>) {
    let mut found = Vec::new();
    // Placeholder key → its path and the index of the value being tried.
    let mut placed: BTreeMap<String, (Vec<Seg>, usize)> = BTreeMap::new();
    for _ in 0..MAX_REPAIRS {
        let error = match serde_path_to_error::deserialize::<_, T>(Tree(tree.clone())) {
            Ok(t) => return (Some(t), found),
            Err(e) => e,
        };
        let segs = segments(error.path());
        let key = key_text(&segs);
        let missing_field = match error.inner() {
            TreeError::MissingField(field) => Some(*field),
            TreeError::UnknownField { .. } | TreeError::Other(_) => None,
        };
        let message = error.inner().to_string().trim().to_string();

        if let Some((at, (path, tried))) = placed.iter_mut().find(|(k, _)| is_under(&key, k)) {
            *tried += 1;
            match placeholders().get(*tried) {
                Some(v) if set(&mut tree, path, v.clone()) => continue,
                _ => {
                    tracing::debug!(key = %at, "no placeholder fits a missing key");
                    return (None, found);
                }
            }
        }
        if let Some(text) = texts.get(&key) {
            if get(&tree, &segs).is_some_and(|v| !v.is_str())
                && set(&mut tree, &segs, Value::String(text.clone()))
            {
                continue;
            }
        }
        if let Some(field) = missing_field {
            let mut path = segs.clone();
            path.push(Seg::Key(field.to_string()));
            let missing = key_text(&path);
            // A bad value taken out leaves its key missing: reported once.
            if !found.iter().any(|f| f.key == missing) {
                found.push(Found {
                    key: missing.clone(),
                    message: format!("`{field}` is required but missing"),
                    value: None,
                });
            }
            if !set(&mut tree, &path, placeholders()[0].clone()) {
                return (None, found);
            }
            placed.insert(missing, (path, 0));
            continue;
        }
        let mut message = readable(&message);
        let value = get(&tree, &segs).and_then(scalar_text);
        // Some errors (a date out of range) do not say which value was read.
        if let Some(shown) = &value {
            let unknown = matches!(error.inner(), TreeError::UnknownField { .. });
            if !unknown && !message.contains(shown.as_str()) {
                message = format!("`{shown}`: {message}");
            }
        }
        found.push(Found {
            key: key.clone(),
            message,
            value,
        });
        if !remove_member(&mut tree, &segs) {
            return (None, found);
        }
    }
    (None, found)
}

/// serde's message, first line only, in the words of a config file.
fn readable(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    // Rust's integer type names mean nothing to someone editing a file.
    let mut out = first.to_string();
    for (rust, plain) in [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected i64", "expected a whole number"),
    ] {
        if out.ends_with(rust) {
            out = format!("{}{plain}", &out[..out.len() - rust.len()]);
        }
    }
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

fn get<'a>(tree: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    segs.iter().try_fold(tree, |v, s| match s {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

fn get_mut<'a>(tree: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Value> {
    segs.iter().try_fold(tree, |v, s| match s {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

/// Sets the value at `segs`, whose last step must be a table key.
fn set(tree: &mut Value, segs: &[Seg], value: Value) -> bool {
    let Some((Seg::Key(last), parent)) = segs.split_last() else {
        return false;
    };
    match get_mut(tree, parent).and_then(Value::as_table_mut) {
        Some(t) => {
            t.insert(last.clone(), value);
            true
        }
        None => false,
    }
}

/// Takes out the table entry at or above `segs` (a bad list element takes
/// its whole list: removing one would renumber the rest).
fn remove_member(tree: &mut Value, segs: &[Seg]) -> bool {
    let Some(end) = segs.iter().rposition(|s| matches!(s, Seg::Key(_))) else {
        return false;
    };
    let Seg::Key(key) = &segs[end] else {
        return false;
    };
    get_mut(tree, &segs[..end])
        .and_then(Value::as_table_mut)
        .is_some_and(|t| t.remove(key).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        id: String,
        #[serde(default)]
        size: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        name: String,
    }

    fn read(text: &str) -> (Option<Doc>, Vec<Found>) {
        deserialize_all::<Doc>(toml::from_str(text).unwrap(), &BTreeMap::new())
    }

    #[test]
    fn every_problem_is_found_with_its_path() {
        let (doc, found) = read(
            "name = 1\nextra = true\n[[items]]\nsize = -1\n[[items]]\nid = \"b\"\nsize = \"x\"\n",
        );
        let keys: Vec<&str> = found.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "extra",
                "items[0].size",
                "items[0].id",
                "items[1].size",
                "name"
            ],
            "{found:#?}"
        );
        // The repaired tree reads: defaults stand in for what was taken out.
        let doc = doc.expect("the rest reads");
        assert_eq!((doc.items[1].id.as_str(), doc.items[1].size), ("b", 0));
    }

    #[test]
    fn env_text_replaces_a_number_where_a_string_is_wanted() {
        let mut texts = BTreeMap::new();
        texts.insert("name".to_string(), "0042".to_string());
        let (doc, found) = deserialize_all::<Doc>(toml::from_str("name = 42").unwrap(), &texts);
        assert!(found.is_empty(), "{found:#?}");
        assert_eq!(doc.unwrap().name, "0042");
    }
}
