//! Loading: defaults, then the TOML file, then `KPID_…` environment
//! variables, with every problem located at its file and line or at the
//! variable that set it.

use super::collect::{self, Seg};
use super::{Config, ConfigErrors, Problem};
use std::collections::BTreeMap;
use std::path::Path;

/// Environment variables that start with `KPID_` but are not configuration.
const NOT_CONFIG_ENV: &[&str] = &["KPID_CONFIG", "KPID_LOG", "KPID_TEST_POSTGRES_URL"];

/// Where a configuration key was set: the file (with its text, for lines)
/// or, for keys an environment variable set, that variable.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    file: String,
    text: String,
    /// Key path set by an environment variable → the variable.
    env: BTreeMap<String, String>,
}

impl Origins {
    /// Keys all from `text`, the contents of `file`.
    pub fn of_file(file: &Path, text: &str) -> Self {
        Origins {
            file: file.display().to_string(),
            text: text.to_string(),
            env: BTreeMap::new(),
        }
    }

    /// The configuration file, as problems name it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// A problem under `key`, located in the file (with the key's line) or
    /// at the environment variable that set it.
    pub fn problem(&self, key: String, message: String) -> Problem {
        match self.env.iter().find(|(k, _)| collect::is_under(&key, k)) {
            Some((_, var)) => Problem {
                file: format!("environment variable {var}"),
                key,
                line: None,
                message,
            },
            None => Problem {
                file: self.file.clone(),
                line: line_of_key(&self.text, &key),
                key,
                message,
            },
        }
    }
}

/// Reads the file and the environment over it into a [`Config`], with every
/// problem found reading it (each under its key, at its line or variable).
/// An error when nothing typed can be read (no file, bad TOML syntax).
pub fn read(path: &Path) -> Result<(Config, Origins, Vec<Problem>), ConfigErrors> {
    let file = path.display().to_string();
    let problem = |key: &str, line: Option<usize>, message: String| Problem {
        file: file.clone(),
        key: key.to_string(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![problem(
            "(file)",
            None,
            format!("cannot read the file: {e}"),
        )])
    })?;
    let mut tree = match text.parse::<toml::Table>() {
        Ok(t) => toml::Value::Table(t),
        Err(e) => {
            let line = e.span().map(|s| line_of_offset(&text, s.start));
            return Err(ConfigErrors(vec![problem(
                "(syntax)",
                line,
                format!("invalid TOML: {}", e.message()),
            )]));
        }
    };
    // Dates and times are read as their text, as every option taking one
    // expects (`end_date = 2026-09-30` is the same as `"2026-09-30"`).
    datetimes_as_text(&mut tree);
    let mut origins = Origins::of_file(path, &text);
    let mut problems = Vec::new();
    let texts = apply_env(&mut tree, &mut origins, &mut problems);
    let (config, found) = collect::deserialize_all::<Config>(tree, &texts);
    problems.extend(found.into_iter().map(|f| {
        origins.problem(
            f.key.clone(),
            f.message_hiding(crate::secrets::looks_secret),
        )
    }));
    match config {
        Some(config) => Ok((config, origins, problems)),
        None => Err(ConfigErrors(problems)),
    }
}

/// Sets each `KPID_A__B` variable at key `a.b` of the tree. A value that
/// reads as a TOML number, boolean or list is taken as one; the text is kept
/// (returned by key) in case the key wants a string after all.
///
/// The `config` crate reads the environment layer (prefix, `__` levels,
/// lowercase keys); kpid sets the values into the file's tree itself so that
/// every problem can name the variable it came from.
fn apply_env(
    tree: &mut toml::Value,
    origins: &mut Origins,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, String> {
    use ::config::Source;
    let mut texts = BTreeMap::new();
    let env = ::config::Environment::with_prefix("KPID")
        .prefix_separator("_")
        .separator("__")
        .collect()
        .unwrap_or_default();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.into_string().ok()?)))
        .map(|(key, raw)| {
            let var = format!("KPID_{}", key.to_ascii_uppercase().replace('.', "__"));
            (var, raw)
        })
        .filter(|(var, _)| !NOT_CONFIG_ENV.contains(&var.as_str()))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path: Vec<String> = var["KPID_".len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        let key = path.join(".");
        origins.env.insert(key.clone(), var.clone());
        let value = match format!("v = {raw}").parse::<toml::Table>() {
            Ok(mut t) => match t.remove("v") {
                Some(
                    v @ (toml::Value::Integer(_)
                    | toml::Value::Float(_)
                    | toml::Value::Boolean(_)
                    | toml::Value::Array(_)),
                ) => {
                    texts.insert(key.clone(), raw.clone());
                    v
                }
                _ => toml::Value::String(raw),
            },
            Err(_) => toml::Value::String(raw),
        };
        if !insert_path(tree, &path, value) {
            problems.push(origins.problem(
                key,
                "only keys of tables can be set from the environment (not inside a list)".into(),
            ));
        }
    }
    texts
}

/// Sets `value` at `path`, making the tables on the way; false when the
/// path runs through something other than a table.
fn insert_path(at: &mut toml::Value, path: &[String], value: toml::Value) -> bool {
    let Some(table) = at.as_table_mut() else {
        return false;
    };
    match path {
        [last] => {
            table.insert(last.clone(), value);
            true
        }
        [first, rest @ ..] => insert_path(
            table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            rest,
            value,
        ),
        [] => false,
    }
}

fn datetimes_as_text(v: &mut toml::Value) {
    match v {
        toml::Value::Datetime(d) => *v = toml::Value::String(d.to_string()),
        toml::Value::Array(a) => a.iter_mut().for_each(datetimes_as_text),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| datetimes_as_text(v)),
        _ => {}
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Finds the line of a dotted key such as `connectors[1].schedule`: the
/// line of the key itself, or, for a key not written in the file, of the
/// nearest table that holds it (a `[[connectors]]` header).
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    use toml_edit::{Item, Table, TableLike, Value};
    /// A place in the document: tables, list elements and values differ in type.
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Item(&'a Item),
        Table(&'a Table),
        Value(&'a Value),
    }
    impl<'a> Node<'a> {
        fn table(self) -> Option<&'a dyn TableLike> {
            match self {
                Node::Item(i) => i.as_table_like(),
                Node::Table(t) => Some(t),
                Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
            }
        }
        fn index(self, i: usize) -> Option<(Node<'a>, Option<std::ops::Range<usize>>)> {
            match self {
                Node::Item(Item::ArrayOfTables(a)) => a.get(i).map(|t| (Node::Table(t), t.span())),
                Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => {
                    a.get(i).map(|v| (Node::Value(v), v.span()))
                }
                _ => None,
            }
        }
    }
    let doc = text.parse::<toml_edit::ImDocument<String>>().ok()?;
    let mut node = Node::Table(doc.as_table());
    let mut span = None;
    for seg in collect::parse_key(key) {
        let step = match seg {
            Seg::Key(k) => node
                .table()
                .and_then(|t| t.get_key_value(&k))
                .map(|(k, v)| (Node::Item(v), k.span().or_else(|| v.span()))),
            Seg::Index(i) => node.index(i),
        };
        let Some((next, at)) = step else { break };
        node = next;
        span = at.or(span);
    }
    span.map(|s| line_of_offset(text, s.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_nested_keys() {
        let text = "timezone = \"UTC\"\n[[shops]]\nid = \"a\"\n\n[[connectors]]\nname = \"x\"\nkind = \"csv\"\nschedule = \"bad\"\n";
        assert_eq!(line_of_key(text, "timezone"), Some(1));
        assert_eq!(line_of_key(text, "connectors[0].schedule"), Some(8));
        assert_eq!(line_of_key(text, "shops[0].id"), Some(3));
    }

    #[test]
    fn finds_lines_in_nested_tables_and_inline_lists() {
        let text = r#"[[roles]]
id = "r"
kpis = [
  { kpi = "gmv" },
  { kpi = "aov", weight = "x" },
]

[[scoring.grades]]
id = "a"

[[scoring.grades]]
id = "b"
name_zh = 5
"#;
        assert_eq!(line_of_key(text, "roles[0].kpis[1].weight"), Some(5));
        assert_eq!(line_of_key(text, "roles[0].kpis[0]"), Some(4));
        assert_eq!(line_of_key(text, "scoring.grades[1].name_zh"), Some(13));
        // A key not in the file: the line of the table that lacks it.
        assert_eq!(line_of_key(text, "scoring.grades[0].min"), Some(8));
    }
}
