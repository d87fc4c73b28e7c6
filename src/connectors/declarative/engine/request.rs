//! One page's request built from the stream's templates: URL, query,
//! JSON body, and the signed POST of a signing block.

use super::super::blocks::signing::{Signing, SigningKeys};
use super::super::plan::StreamPlan;
use super::super::template::Template;
use super::{DeclarativeConnector, Vars, NUMERIC_VARS};
use crate::connectors::ConnectorError;
use chrono::Utc;
use secrecy::SecretString;
use serde_json::Value;

impl DeclarativeConnector {
    /// The URL of a page built from the stream's templates.
    pub(super) fn url(&self, v: &Vars) -> Result<String, ConnectorError> {
        let s = v.s;
        let var = |n: &str| self.var(n, v);
        let path = s.path.render(&var).ok_or_else(|| {
            self.config_error(format!(
                "stream `{}`: the path needs a value it has not got",
                s.name
            ))
        })?;
        // A signed call carries its parameters in the signed body.
        let params = match self.def.signing {
            Some(_) => Vec::new(),
            None => self.params(v),
        };
        let base = format!("{}{}", self.options.base_url.trim_end_matches('/'), path);
        let url = if params.is_empty() {
            reqwest::Url::parse(&base)
        } else {
            reqwest::Url::parse_with_params(&base, &params)
        };
        url.map(|u| u.to_string())
            .map_err(|e| self.config_error(format!("base_url: {e}")))
    }

    /// The query and window parameters of a page.
    pub(super) fn params(&self, v: &Vars) -> Vec<(String, String)> {
        let s = v.s;
        let var = |n: &str| self.var(n, v);
        let window_params = if v.slice.incremental {
            &s.window.incremental
        } else {
            &s.window.backfill
        };
        // A parameter whose variable has no value yet (`{cursor}` on the
        // first page) is left out.
        s.query
            .iter()
            .chain(window_params)
            .filter_map(|(k, t): &(String, Template)| t.render(&var).map(|v| (k.clone(), v)))
            .collect()
    }

    /// With a signing block, the business parameters it signs: the body
    /// (JD, 抖店) or an object of the parameters (TOP, Pinduoduo), the
    /// window's parameters included either way.
    pub(super) fn business(&self, v: &Vars) -> Option<Value> {
        let signing = self.def.signing?;
        let mut object = match (signing.json_business(), &v.s.body) {
            (true, Some(b)) => match self.body(b, v) {
                Some(Value::Object(o)) => o,
                _ => serde_json::Map::new(),
            },
            _ => serde_json::Map::new(),
        };
        for (k, x) in self.params(v) {
            object.insert(k, Value::String(x));
        }
        Some(Value::Object(object))
    }

    /// The JSON body: string values are templates; one that is a numeric
    /// page variable alone becomes a number; a member whose variable has no
    /// value (`{cursor}` on the first page) is left out.
    pub(super) fn body(&self, value: &Value, v: &Vars) -> Option<Value> {
        match value {
            Value::String(t) => {
                let t = Template::parse(t).ok()?;
                let text = t.render(&|n| self.var(n, v))?;
                match t.only_var() {
                    Some(n) if NUMERIC_VARS.contains(&n) => {
                        serde_json::from_str::<serde_json::Number>(&text)
                            .ok()
                            .map(Value::Number)
                    }
                    _ => Some(Value::String(text)),
                }
            }
            Value::Array(a) => Some(Value::Array(
                a.iter()
                    .map(|x| self.body(x, v).unwrap_or(Value::Null))
                    .collect(),
            )),
            Value::Object(o) => Some(Value::Object(
                o.iter()
                    .filter_map(|(k, x)| self.body(x, v).map(|x| (k.clone(), x)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }

    pub(super) fn request(
        &self,
        c: &reqwest::Client,
        s: &StreamPlan,
        url: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> reqwest::RequestBuilder {
        let var = |n: &str| self.fixed_var(n, token);
        let signed = match (self.def.signing, s.api.as_deref(), body) {
            (Some(signing), Some(api), Some(business)) => {
                self.signed(c, signing, url, api, business)
            }
            _ => None,
        };
        let mut req = signed
            .unwrap_or_else(|| c.request(s.method.clone(), url))
            .header("Accept", "application/json");
        let auth_query: Vec<(String, String)> = self
            .def
            .auth_query
            .iter()
            .filter_map(|(k, t)| t.render(&var).map(|v| (k.clone(), v)))
            .collect();
        if !auth_query.is_empty() {
            req = req.query(&auth_query);
        }
        for (name, t) in &self.def.headers {
            if let Some(v) = t.render(&var) {
                match reqwest::header::HeaderValue::from_str(&v) {
                    Ok(mut hv) => {
                        // Keeps credentials out of any Debug print of the request.
                        hv.set_sensitive(true);
                        req = req.header(name.as_str(), hv);
                    }
                    // The value is a credential: name the header, never the value.
                    Err(_) => {
                        tracing::warn!(connector = %self.name, header = %name, "header value has characters a header cannot carry (a newline in a credential file?); not sent")
                    }
                }
            }
        }
        if let Some((user, pass)) = &self.def.basic {
            req = req.basic_auth(user.render(&var).unwrap_or_default(), pass.render(&var));
        }
        if let (Some(b), None) = (body, self.def.signing) {
            req = req.json(b);
        }
        req
    }

    /// The platform's signed POST of `api`, signed now (each attempt:
    /// the timestamp must be current); `None` without the keys, which
    /// `build` requires.
    pub(super) fn signed(
        &self,
        c: &reqwest::Client,
        signing: Signing,
        url: &str,
        api: &str,
        business: &Value,
    ) -> Option<reqwest::RequestBuilder> {
        let [app, secret, token] = signing.key_names();
        let app = self.fixed_var(app, None)?;
        let keys = SigningKeys {
            app: &app,
            secret: self.credentials.get(secret)?,
            token: self.credentials.get(token),
        };
        Some(signing.post(c, url, api, &keys, business, Utc::now()))
    }
}
