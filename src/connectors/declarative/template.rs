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

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
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
                            Some(c) => {
                                return Err(format!(
                                    "`{text}`: `{c}` cannot appear in a {{variable}} name"
                                ))
                            }
                            None => return Err(format!("`{text}`: `{{` is not closed")),
                        }
                    }
                    if name.is_empty() {
                        return Err(format!("`{text}`: empty `{{}}`"));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(name));
                }
                '}' => return Err(format!("`{text}`: `}}` without `{{` (write `}}}}`)")),
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
        assert!(Template::parse("{open").is_err());
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("{a-b}").is_err());
        assert!(Template::parse("close}").is_err());
    }
}
