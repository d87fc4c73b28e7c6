//! The configuration assembled for the daemon and the commands: the
//! [`Settings`], the connector kinds it can use (built-in and user
//! definitions, behind the registry) and the validated alert rules.
//!
//! It sits above `connectors` and `alerts` so that `settings` needs neither:
//! their checks (definition files, each connector's kind and options,
//! `[alerts]`) run here, after the settings' own, and their problems join
//! the same list, each at its file, line and key.

use crate::alerts::config::{self as alert_config, Rules};
use crate::config::{ConfigErrors, KeyProblem};
use crate::connectors::declarative::{self, Definitions};
use crate::connectors::registry::{self, Registry};
use crate::settings::refund_sources::RefundKinds;
use crate::settings::{Checked, Settings};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

/// A configuration that passed every check, with the parts the components
/// above `settings` need. Dereferences to its [`Settings`], which most code
/// takes.
#[derive(Debug, Clone)]
pub struct Setup {
    pub settings: Settings,
    /// Connector kinds from definitions: the built-in ones and the user's.
    pub definitions: Arc<Definitions>,
    /// `[alerts]` validated.
    pub alerts: Rules,
}

impl Deref for Setup {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        &self.settings
    }
}

/// Loads, merges the environment over the file, and validates, reporting
/// every problem found (not only the first), in the file's order.
pub fn load(path: &Path) -> Result<Setup, ConfigErrors> {
    let mut checked = Checked::load(path)?;
    let settings = &checked.settings;

    let folders = declarative::folders(path, &settings.config.definitions);
    let (definitions, definition_problems) =
        Definitions::load(&folders, &registry::rust_kind_names());
    // Problems inside definition files name those files, not this one.
    let mut problems_from_definitions = Vec::new();
    let mut found = Vec::new();
    for p in definition_problems {
        if p.file.is_empty() {
            found.push(KeyProblem::new(p.key, p.message));
        } else {
            problems_from_definitions.push(p);
        }
    }

    let registry = Registry::new(&definitions);
    for (i, c) in settings.config.connectors.iter().enumerate() {
        if !registry.contains(&c.kind) {
            let known = registry.names();
            found.push(KeyProblem::new(
                format!("connectors[{i}].kind"),
                format!("unknown kind `{}` (known: {})", c.kind, known.join(", ")),
            ));
        }
        for p in registry.check(c) {
            found.push(KeyProblem::new(
                format!("connectors[{i}].{}", p.key),
                p.message,
            ));
        }
    }

    let (alerts, alert_problems) = alert_config::resolve(
        &settings.config.alerts,
        &alert_config::Context {
            catalogue: &settings.catalogue,
            shops: &settings.shops,
            people: &settings.people,
            roles: &settings.roles,
            default_tz: settings.default_tz,
        },
    );
    found.extend(alert_problems);

    checked.settings.refund_kinds = refund_kinds(&definitions);
    for p in found {
        checked.report(p);
    }
    for p in problems_from_definitions {
        checked.push(p);
    }
    Ok(Setup {
        settings: checked.finish()?,
        definitions: Arc::new(definitions),
        alerts,
    })
}

/// The definition kinds with streams that map refunds, for
/// [`crate::settings::refund_sources`].
fn refund_kinds(definitions: &Definitions) -> RefundKinds {
    let mut kinds: BTreeMap<String, Vec<String>> = definitions
        .iter()
        .map(|d| {
            let streams = d.streams.iter().filter(|s| s.refunds.is_some());
            (d.kind.clone(), streams.map(|s| s.name.clone()).collect())
        })
        .collect();
    // An old kind name (`shopify_rest`) delivers what its kind does.
    for (old, new) in crate::connectors::declarative::aliases::RENAMED {
        if let Some(streams) = kinds.get(*new).cloned() {
            kinds.insert(old.to_string(), streams);
        }
    }
    RefundKinds::new(kinds)
}
