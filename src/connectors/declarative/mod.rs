//! Declarative platforms: one TOML definition per platform says how to
//! authenticate, which endpoint serves each stream, how its window and
//! pagination work and how a record becomes kpid facts. The definitions in
//! the repository's `connectors/` folder are built into the binary; the
//! configuration's `definitions = ["folder", …]` adds a user's own (in-house
//! APIs). See `connectors/README.md` for the format.

pub mod aliases;
#[cfg(test)]
mod block_choices;
pub mod blocks;
pub mod definition;
pub mod engine;
pub mod file;
pub mod mapping;
pub mod plan;
pub mod pointer;
pub mod projection;
pub mod reads;
pub mod reasons;
pub mod record;
pub mod template;
pub mod tree;

pub use engine::DeclarativeConnector;
pub use plan::Definition;

use crate::config::Problem;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// `(file name, text)` of every `connectors/*.toml`, embedded by `build.rs`.
const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/definitions.rs"));

/// The definitions a configuration can use, by kind.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    kinds: BTreeMap<String, Arc<Definition>>,
}

impl Definitions {
    /// The built-in definitions. A broken one is a build defect, caught by
    /// this module's tests; at run time it is left out with an error logged.
    pub fn builtin() -> &'static Definitions {
        static BUILTIN: OnceLock<Definitions> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let (defs, problems) = Self::from_texts(
                EMBEDDED.iter().map(|(name, text)| {
                    (format!("connectors/{name} (built in)"), text.to_string())
                }),
                &Definitions::default(),
                // The registry's tests check no built-in takes a Rust kind.
                &[],
            );
            for p in problems {
                tracing::error!(problem = %p, "a built-in connector definition is broken");
            }
            defs
        })
    }

    /// The built-in definitions plus every `*.toml` in `folders` (in
    /// lexical order). A user definition may not take a kind that exists
    /// (a Rust connector's, in `reserved`, a built-in definition's or
    /// another file's).
    pub fn load(
        folders: &[(String, std::path::PathBuf)],
        reserved: &[&str],
    ) -> (Definitions, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut texts = Vec::new();
        for (key, folder) in folders {
            let entries = match std::fs::read_dir(folder) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(Problem {
                        file: String::new(),
                        key: key.clone(),
                        line: None,
                        message: format!(
                            "cannot read the definitions folder {}: {e}",
                            folder.display()
                        ),
                    });
                    continue;
                }
            };
            let mut files: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                match std::fs::read_to_string(&f) {
                    Ok(t) => texts.push((f.display().to_string(), t)),
                    Err(e) => problems.push(Problem {
                        file: f.display().to_string(),
                        key: "(file)".into(),
                        line: None,
                        message: format!("cannot read the file: {e}"),
                    }),
                }
            }
        }
        let (defs, more) = Self::from_texts(texts.into_iter(), Self::builtin(), reserved);
        problems.extend(more);
        (defs, problems)
    }

    fn from_texts(
        texts: impl Iterator<Item = (String, String)>,
        base: &Definitions,
        reserved: &[&str],
    ) -> (Definitions, Vec<Problem>) {
        let mut defs = base.clone();
        let mut problems = Vec::new();
        for (file, text) in texts {
            match definition::compile(&text, &file) {
                Ok(def) => {
                    let clash = if reserved.contains(&def.kind.as_str()) {
                        Some("a connector kind built into kpid".to_string())
                    } else if let Some(new) = aliases::renamed(&def.kind) {
                        Some(format!("the old name of the built-in kind `{new}`"))
                    } else {
                        defs.kinds
                            .get(&def.kind)
                            .map(|d| format!("already defined by {}", d.source))
                    };
                    if let Some(why) = clash {
                        problems.push(Problem {
                            line: crate::config::line_of_key(&text, "kind"),
                            file,
                            key: "kind".into(),
                            message: format!(
                                "`{}` is {why}; give this definition another kind",
                                def.kind
                            ),
                        });
                        continue;
                    }
                    defs.kinds.insert(def.kind.clone(), Arc::new(def));
                }
                Err(list) => problems.extend(list),
            }
        }
        (defs, problems)
    }

    /// The definition of `kind`, or of the kind an old name stands for.
    pub fn get(&self, kind: &str) -> Option<&Arc<Definition>> {
        self.kinds
            .get(kind)
            .or_else(|| aliases::renamed(kind).and_then(|k| self.kinds.get(k)))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Definition>> {
        self.kinds.values()
    }
}

/// Folders named in the configuration, relative to the configuration file.
pub fn folders(config_file: &Path, names: &[String]) -> Vec<(String, std::path::PathBuf)> {
    let dir = config_file.parent().unwrap_or(Path::new("."));
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("definitions[{i}]"), dir.join(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_definitions_compile() {
        assert!(!EMBEDDED.is_empty(), "connectors/*.toml were embedded");
        for (name, text) in EMBEDDED {
            if let Err(p) = definition::compile(text, name) {
                panic!("connectors/{name}: {p:?}");
            }
        }
        assert_eq!(Definitions::builtin().iter().count(), EMBEDDED.len());
    }
}
