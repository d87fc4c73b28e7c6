//! The formula language of KPI definitions.
//!
//! `+ - * /`, parentheses, decimal numbers, input and KPI ids, and three
//! functions: `prev(expr)` evaluates `expr` over the previous period of the same
//! kind, `target(kpi)` is the configured target of a KPI, and `peer_mean(input)`
//! is the mean of an input over all peers (CS agents) of the scope.
//! Built-in KPIs are written in the same language as user KPIs.

use rust_decimal::Decimal;
use std::str::FromStr;

/// Deepest nesting of parentheses, function calls and signs. Parsing and
/// evaluation recurse once per level: a bound keeps a hostile or generated
/// formula from overflowing the stack.
pub const MAX_NESTING: usize = 64;

/// Most numbers and ids in one formula. A long sum is a chain of that many
/// nodes, which evaluation (and dropping the tree) walks recursively.
pub const MAX_TERMS: usize = 1000;

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(Decimal),
    Ref(String),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Prev(Box<Expr>),
    Target(String),
    PeerMean(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A formula that could not be read, with the 1-based character position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct FormulaError {
    pub position: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Decimal),
    Ident(String),
    Sym(char),
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, FormulaError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = Decimal::from_str(&text).map_err(|_| FormulaError {
                position: pos,
                message: format!("`{text}` is not a number"),
            })?;
            out.push((pos, Tok::Num(n)));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((pos, Tok::Ident(chars[start..i].iter().collect())));
        } else if "+-*/()".contains(c) {
            out.push((pos, Tok::Sym(c)));
            i += 1;
        } else {
            return Err(FormulaError {
                position: pos,
                message: format!("unexpected character `{c}`"),
            });
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    /// Open parentheses, calls and signs around the current token.
    nesting: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map(|(p, _)| *p).unwrap_or(self.end)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, FormulaError> {
        Err(FormulaError {
            position: self.pos(),
            message: message.into(),
        })
    }

    /// Enters one level of nesting, refusing to go past [`MAX_NESTING`].
    fn nest(&mut self) -> Result<(), FormulaError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return self.err(format!(
                "nested too deep: parentheses, function calls and signs at most {MAX_NESTING} deep"
            ));
        }
        Ok(())
    }

    fn eat(&mut self, sym: char) -> bool {
        if self.peek() == Some(&Tok::Sym(sym)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, FormulaError> {
        self.left_assoc(&[('+', Op::Add), ('-', Op::Sub)], Self::term)
    }

    fn term(&mut self) -> Result<Expr, FormulaError> {
        self.left_assoc(&[('*', Op::Mul), ('/', Op::Div)], Self::unary)
    }

    /// `operand`s joined left to right by any of `ops`, one precedence level:
    /// `a - b + c` is `(a - b) + c`.
    fn left_assoc(
        &mut self,
        ops: &[(char, Op)],
        operand: fn(&mut Self) -> Result<Expr, FormulaError>,
    ) -> Result<Expr, FormulaError> {
        let mut left = operand(self)?;
        while let Some(&(_, op)) = ops.iter().find(|(c, _)| self.eat(*c)) {
            left = Expr::Bin(op, Box::new(left), Box::new(operand(self)?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FormulaError> {
        if self.eat('-') {
            self.nest()?;
            let e = Expr::Neg(Box::new(self.unary()?));
            self.nesting -= 1;
            return Ok(e);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FormulaError> {
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.at += 1;
                Ok(Expr::Num(n))
            }
            Some(Tok::Sym('(')) => {
                self.nest()?;
                self.at += 1;
                let e = self.expr()?;
                if !self.eat(')') {
                    return self.err("expected `)`");
                }
                self.nesting -= 1;
                Ok(e)
            }
            Some(Tok::Ident(name)) => {
                self.at += 1;
                if !self.eat('(') {
                    return Ok(Expr::Ref(name));
                }
                self.nest()?;
                let call = match name.as_str() {
                    "prev" => Expr::Prev(Box::new(self.expr()?)),
                    "target" | "peer_mean" => {
                        let arg = match self.peek().cloned() {
                            Some(Tok::Ident(a)) => a,
                            _ => return self.err(format!("`{name}` takes an id")),
                        };
                        self.at += 1;
                        if name == "target" {
                            Expr::Target(arg)
                        } else {
                            Expr::PeerMean(arg)
                        }
                    }
                    other => {
                        self.at -= 2;
                        return self.err(format!(
                            "unknown function `{other}` (known: prev, target, peer_mean)"
                        ));
                    }
                };
                if !self.eat(')') {
                    return self.err("expected `)`");
                }
                self.nesting -= 1;
                Ok(call)
            }
            Some(Tok::Sym(c)) => self.err(format!("unexpected `{c}`")),
            None => self.err("unexpected end of formula"),
        }
    }
}

/// Parses a formula; identifiers are checked later against the catalogue.
pub fn parse(src: &str) -> Result<Expr, FormulaError> {
    let toks = lex(src)?;
    let terms = toks
        .iter()
        .filter(|(_, t)| !matches!(t, Tok::Sym(_)))
        .count();
    if terms > MAX_TERMS {
        return Err(FormulaError {
            position: 1,
            message: format!("too long: {terms} numbers and ids, at most {MAX_TERMS}"),
        });
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: src.chars().count() + 1,
        nesting: 0,
    };
    let e = p.expr()?;
    if p.at < p.toks.len() {
        return p.err("unexpected text after the end of the formula");
    }
    Ok(e)
}

impl Expr {
    /// Every id the formula names, in order of appearance (ids inside
    /// `target()` and `peer_mean()` included).
    pub fn ids(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    /// True when the formula subtracts or negates anywhere (so it can be
    /// negative even over non-negative values).
    pub fn subtracts(&self) -> bool {
        match self {
            Expr::Num(n) => n.is_sign_negative(),
            Expr::Ref(_) | Expr::Target(_) | Expr::PeerMean(_) => false,
            Expr::Neg(_) | Expr::Bin(Op::Sub, _, _) => true,
            Expr::Prev(e) => e.subtracts(),
            Expr::Bin(_, l, r) => l.subtracts() || r.subtracts(),
        }
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Num(_) => {}
            Expr::Ref(id) | Expr::Target(id) | Expr::PeerMean(id) => out.push(id),
            Expr::Neg(e) | Expr::Prev(e) => e.collect(out),
            Expr::Bin(_, l, r) => {
                l.collect(out);
                r.collect(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_parentheses() {
        let e = parse("(gmv - prev(gmv)) / prev(gmv)").unwrap();
        assert!(matches!(e, Expr::Bin(Op::Div, _, _)));
        let e = parse("a + b * 2").unwrap();
        match e {
            Expr::Bin(Op::Add, _, r) => assert!(matches!(*r, Expr::Bin(Op::Mul, _, _))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_position() {
        let err = parse("gmv - ").unwrap_err();
        assert_eq!(err.position, 7);
        let err = parse("gmv $ 2").unwrap_err();
        assert_eq!(err.position, 5);
        let err = parse("(gmv - 1").unwrap_err();
        assert!(err.message.contains("`)`"));
        let err = parse("sqrt(gmv)").unwrap_err();
        assert_eq!(err.position, 1);
    }

    #[test]
    fn lists_ids() {
        let e = parse("gmv / target(gmv) + peer_mean(cs_gmv)").unwrap();
        assert_eq!(e.ids(), vec!["gmv", "gmv", "cs_gmv"]);
    }
}
