//! `{name}` templates in paths, query parameters, headers and bodies of a
//! definition. `{{` and `}}` stand for literal braces.

/// A parsed template: literal text and variable names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// Why a template does not parse; each names the template's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{text}`: `{found}` cannot appear in a {{variable}} name")]
    BadNameChar { text: String, found: char },
    #[error("`{text}`: `{{` is not closed")]
    Unclosed { text: String },
    #[error("`{text}`: empty `{{}}`")]
    EmptyName { text: String },
    #[error("`{text}`: `}}` without `{{` (write `}}}}`)")]
    StrayClose { text: String },
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let text_of = || text.to_string();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                            Some(found) => {
                                return Err(TemplateError::BadNameChar {
                                    text: text_of(),
                                    found,
                                })
                            }
                            None => return Err(TemplateError::Unclosed { text: text_of() }),
                        }
                    }
                    if name.is_empty() {
                        return Err(TemplateError::EmptyName { text: text_of() });
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(name));
                }
                '}' => return Err(TemplateError::StrayClose { text: text_of() }),
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template { parts })
    }

    /// The variables the template uses.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    pub fn uses(&self, var: &str) -> bool {
        self.vars().any(|v| v == var)
    }

    /// The variable when the template is that variable alone (`"{offset}"`).
    pub fn only_var(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// The text with every variable filled in; `None` when one has no value
    /// (a `{cursor}` parameter on the first page is left out).
    pub fn render(&self, value: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&value(v)?),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables_and_escaped_braces() {
        let t = Template::parse("Bearer {token} {{x}}").unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), vec!["token"]);
        let out = t.render(&|v| (v == "token").then(|| "abc".to_string()));
        assert_eq!(out.as_deref(), Some("Bearer abc {x}"));
        assert_eq!(t.render(&|_| None), None);
        assert_eq!(t.only_var(), None);
        assert_eq!(
            Template::parse("{offset}").unwrap().only_var(),
            Some("offset")
        );
    }

    #[test]
    fn refuses_broken_templates() {
        let text = |t: &str| t.to_string();
        assert_eq!(
            Template::parse("{open"),
            Err(TemplateError::Unclosed {
                text: text("{open")
            })
        );
        assert_eq!(
            Template::parse("{}"),
            Err(TemplateError::EmptyName { text: text("{}") })
        );
        let bad = Template::parse("{a-b}").unwrap_err();
        assert_eq!(
            bad,
            TemplateError::BadNameChar {
                text: text("{a-b}"),
                found: '-'
            }
        );
        assert_eq!(
            bad.to_string(),
            "`{a-b}`: `-` cannot appear in a {variable} name"
        );
        assert_eq!(
            Template::parse("close}").unwrap_err().to_string(),
            "`close}`: `}` without `{` (write `}}`)"
        );
    }
}
