//! A definition's JSON pointer, split into its tokens once when the plan is
//! checked. Splitting, unescaping and scanning for `@name` on every read
//! of every record cost the Shopify definition a tenth of its ingest CPU
//! (callgrind, issue 15); a read now only walks the tokens.

use super::tree::Tree;
use std::fmt;
use std::ops::Deref;

/// One token of a pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    /// Unescaped (`~1` is `/`, `~0` is `~`): an object's key.
    key: Box<str>,
    /// The list index the token reads, by `Value::pointer`'s rule.
    index: Option<usize>,
    /// `@name` as written: the index of the page's column `name`.
    column: Option<Box<str>>,
}

/// A JSON pointer as written (`/customer/id`) with its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPointer {
    text: String,
    /// `None`: the pointer reads nothing (neither empty nor starting with `/`).
    tokens: Option<Box<[Token]>>,
    /// Some token is a column name (`@name`).
    columns: bool,
}

/// `Value::pointer`'s index rule: digits, no sign, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token == "0" || !token.starts_with(['0', '+']) {
        token.parse().ok()
    } else {
        None
    }
}

impl JsonPointer {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let tokens = match text.strip_prefix('/') {
            _ if text.is_empty() => Some(Box::default()),
            None => None,
            Some(rest) => Some(
                rest.split('/')
                    .map(|raw| {
                        let key = raw.replace("~1", "/").replace("~0", "~");
                        Token {
                            index: index(&key),
                            key: key.into(),
                            column: raw.strip_prefix('@').map(Into::into),
                        }
                    })
                    .collect(),
            ),
        };
        let columns = tokens
            .as_deref()
            .is_some_and(|t| t.iter().any(|t| t.column.is_some()));
        JsonPointer {
            text,
            tokens,
            columns,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Some token is a column name (`@name`), which only a page resolves.
    pub(super) fn reads_columns(&self) -> bool {
        self.columns
    }

    /// What `Value::pointer` finds, `@name` tokens read as plain keys.
    pub(super) fn find<'a, T: Tree>(&self, v: &'a T) -> Option<&'a T> {
        self.tokens
            .as_deref()?
            .iter()
            .try_fold(v, |target, t| step(target, &t.key, t.index))
    }

    /// [`JsonPointer::find`] with each `@name` token read as the index of
    /// that column in `columns`; `Err` when the page has no such column.
    pub(super) fn find_in<'a, T: Tree>(
        &self,
        v: &'a T,
        columns: &[String],
    ) -> Result<Option<&'a T>, NoColumn> {
        if !self.columns {
            return Ok(self.find(v));
        }
        let mut target = Some(v);
        for t in self.tokens.as_deref().unwrap_or_default() {
            let here = match &t.column {
                None => target.and_then(|v| step(v, &t.key, t.index)),
                Some(name) => {
                    let i = columns.iter().position(|c| **c == **name).ok_or(NoColumn)?;
                    // An object holds a column's index as a text key.
                    target.and_then(|v| step(v, &i.to_string(), Some(i)))
                }
            };
            target = here;
        }
        Ok(target)
    }
}

/// A pointer's `@name` names a column the page does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NoColumn;

fn step<'a, T: Tree>(target: &'a T, key: &str, index: Option<usize>) -> Option<&'a T> {
    match target.list() {
        None => target.key(key),
        Some(list) => list.get(index?),
    }
}

impl Deref for JsonPointer {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<&str> for JsonPointer {
    fn from(text: &str) -> Self {
        JsonPointer::new(text)
    }
}

impl From<String> for JsonPointer {
    fn from(text: String) -> Self {
        JsonPointer::new(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_read_by_their_index() {
        let v = json!({"list": [10, 11, 12], "obj": {"2": "two"}});
        let cols: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let p = JsonPointer::new("/list/@b");
        assert!(p.reads_columns());
        assert_eq!(p.find_in(&v, &cols), Ok(Some(&json!(11))));
        assert_eq!(p.find_in(&v, &cols[..1]), Err(NoColumn));
        let o = JsonPointer::new("/obj/@c");
        assert_eq!(o.find_in(&v, &cols), Ok(Some(&json!("two"))));
        assert_eq!(JsonPointer::new("/nothing/@c").find_in(&v, &cols), Ok(None));
        assert!(!JsonPointer::new("/list/1").reads_columns());
    }
}
