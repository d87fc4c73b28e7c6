//! The layer check (issue 15): reads every file under `src/`, collects the
//! `crate::…`, `super::…` and `self::…` paths (imports and inline uses, test
//! modules included; comments and strings skipped), maps them to modules and
//! fails on
//!
//! - a cycle between sibling modules at any level (a child may use its
//!   parent's items and a parent its children's), and
//! - a top-level import that goes up the declared layers ([`LAYERS`]).
//!
//! Each failure names the file, line and edge. `KPID_LAYERS_PRINT=1` prints
//! the top-level graph, to compare with `python3 deps.py src` or
//! `cargo modules dependencies --lib`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Top-level modules from the top down; a module may use its own layer and
/// the ones below. Modules of one layer may use each other without a cycle.
const LAYERS: &[&[&str]] = &[
    &["cli", "telemetry"],
    &["daemon"],
    &["server"],
    // The read side: the JSON and files the CLI and the API both serve.
    &["read"],
    &["scheduler"],
    &["jobs"],
    // The configuration assembled with what the components below check
    // and load (connector definitions, alert rules).
    &["setup"],
    &["connectors", "alerts", "snapshot", "scorecard"],
    &["settings"],
    &["kpi", "targets", "scoring", "currency", "report", "format"],
    &["store"],
    // `config` (the file's serde structs, loading, redaction) sits with the
    // domain types it parses into: it reads money amounts and resolves
    // secrets, and knows nothing above them.
    // `testing`: the unit tests' parsers of written values, used from every
    // layer and using nothing of the crate.
    &[
        "facts", "ids", "measure", "money", "period", "schedule", "secrets", "http", "metrics",
        "progress", "config", "testing",
    ],
];

/// Today's violating edges, as `from -> to` (full module paths). Other
/// steps remove them.
/// The test fails when an edge listed here no longer violates, so the list
/// can only shrink.
const KNOWN: &[&str] = &[];

/// One use of a path: where, from which module, to which.
#[derive(Debug, Clone)]
struct Use {
    file: String,
    line: usize,
    from: Vec<String>,
    to: Vec<String>,
    path: String,
}

#[test]
fn modules_keep_to_their_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let uses = collect(&src);
    let mut violations: BTreeMap<String, (String, Vec<Use>)> = BTreeMap::new();
    let mut add = |why: String, u: &Use, edge: String| {
        violations
            .entry(edge)
            .or_insert_with(|| (why, Vec::new()))
            .1
            .push(u.clone());
    };

    // (b) top-level imports up the layers.
    let rank = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let mut unplaced = BTreeSet::new();
    for u in &uses {
        let (a, b) = (&u.from[0], &u.to[0]);
        if a == b {
            continue;
        }
        for m in [a, b] {
            if rank(m).is_none() {
                unplaced.insert(m.clone());
            }
        }
        if let (Some(ra), Some(rb)) = (rank(a), rank(b)) {
            if rb < ra {
                add(format!("up the layers: {a} is below {b}"), u, edge(a, b));
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "top-level modules not in LAYERS of tests/layers.rs (place them): {unplaced:?}"
    );

    // (a) cycles between siblings, at every level. At the top, a cycle
    // through an edge up the layers is reported above as that edge; what is
    // left are cycles within one layer.
    let up = |a: &str, b: &str| matches!((rank(a), rank(b)), (Some(ra), Some(rb)) if rb < ra);
    let mut siblings: BTreeMap<Vec<String>, Vec<(String, String, &Use)>> = BTreeMap::new();
    for u in &uses {
        let common = u.from.iter().zip(&u.to).take_while(|(a, b)| a == b).count();
        if common < u.from.len() && common < u.to.len() {
            let (a, b) = (&u.from[common], &u.to[common]);
            if common == 0 && up(a, b) {
                continue;
            }
            let parent = u.from[..common].to_vec();
            siblings
                .entry(parent)
                .or_default()
                .push((a.clone(), b.clone(), u));
        }
    }
    for (parent, edges) in &siblings {
        let graph: BTreeMap<&str, BTreeSet<&str>> =
            edges.iter().fold(BTreeMap::new(), |mut g, (a, b, _)| {
                g.entry(a.as_str()).or_default().insert(b.as_str());
                g
            });
        let full = |m: &str| join(&[&parent[..], &[m.to_string()]].concat());
        for scc in strongly_connected(&graph) {
            let cycle = scc.iter().map(|m| full(m)).collect::<Vec<_>>().join(", ");
            for (a, b, u) in edges {
                if scc.contains(a.as_str()) && scc.contains(b.as_str()) {
                    add(
                        format!("a cycle among {{{cycle}}}"),
                        u,
                        edge(&full(a), &full(b)),
                    );
                }
            }
        }
    }

    if std::env::var_os("KPID_LAYERS_PRINT").is_some() {
        let mut top: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for u in &uses {
            if u.from[0] != u.to[0] {
                top.entry(&u.from[0]).or_default().insert(&u.to[0]);
            }
        }
        for (a, bs) in top {
            println!("{a} -> {bs:?}");
        }
    }

    let mut report = String::new();
    for (e, (why, at)) in &violations {
        if KNOWN.contains(&e.as_str()) {
            continue;
        }
        let _ = writeln!(report, "{e} ({why}):");
        let mut lines: BTreeMap<(&str, usize), Vec<&str>> = BTreeMap::new();
        for u in at {
            lines.entry((&u.file, u.line)).or_default().push(&u.path);
        }
        for ((file, line), paths) in lines {
            let _ = writeln!(report, "    {file}:{line}: {}", paths.join(", "));
        }
    }
    for k in KNOWN {
        if !violations.contains_key(*k) {
            let _ = writeln!(
                report,
                "{k} is in KNOWN but no longer a violation: remove it from KNOWN in tests/layers.rs"
            );
        }
    }
    assert!(report.is_empty(), "layer check failed:\n{report}");
}

fn edge(a: &str, b: &str) -> String {
    format!("{a} -> {b}")
}

fn join(m: &[String]) -> String {
    m.join("::")
}

/// Tarjan's strongly connected components of more than one node.
fn strongly_connected<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<BTreeSet<&'a str>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<BTreeSet<&'a str>>,
    }
    fn visit<'a>(v: &'a str, g: &BTreeMap<&'a str, BTreeSet<&'a str>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in g.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(w, g, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.insert(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                s.out.push(scc);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(v, graph, &mut s);
        }
    }
    s.out
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module a file defines: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

fn collect(src: &Path) -> Vec<Use> {
    let mut paths = Vec::new();
    files(src, &mut paths);
    // The binary's root uses the library by its name, not by `crate::`.
    paths.retain(|p| p != &src.join("main.rs"));
    let mut sources = Vec::new();
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let code = strip(&text);
        let module = module_of(src, p);
        for (inline, _) in inline_modules(&code) {
            modules.insert([&module[..], &inline[..]].concat());
        }
        modules.insert(module.clone());
        let name = format!("src/{}", p.strip_prefix(src).expect("under src").display());
        sources.push((name, module, code));
    }
    let mut uses = Vec::new();
    for (file, module, code) in &sources {
        let inline = inline_modules(code);
        for (at, path) in paths_in(code) {
            // The innermost inline module around `at`.
            let here = inline
                .iter()
                .filter(|(_, (open, close))| *open <= at && at < *close)
                .max_by_key(|(_, (open, _))| *open)
                .map(|(m, _)| [&module[..], &m[..]].concat())
                .unwrap_or_else(|| module.clone());
            let Some(to) = resolve(&here, &path, &modules) else {
                continue;
            };
            if to.is_empty() || here.is_empty() {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            uses.push(Use {
                file: file.clone(),
                line,
                from: here,
                to,
                path: path.join("::"),
            });
        }
    }
    uses
}

/// The module a path names: its longest prefix that is a module.
fn resolve(
    here: &[String],
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut base: Vec<String> = here.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    for seg in rest {
        let mut next = base.clone();
        next.push(seg.clone());
        if modules.contains(&next) {
            base = next;
        } else {
            break;
        }
    }
    Some(base)
}

/// Inline `mod name { … }` blocks of a file as (path below the file's
/// module, byte range of the block).
fn inline_modules(code: &str) -> Vec<(Vec<String>, (usize, usize))> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut open: Vec<(Vec<String>, usize, usize)> = Vec::new(); // path, start, depth
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if open.last().is_some_and(|(_, _, d)| *d == depth) {
                    let (path, start, _) = open.pop().expect("an open module");
                    out.push((path, (start, i)));
                }
            }
            b'm' if is_word_at(code, i, "mod") => {
                let rest = &code[i + 3..];
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let after = rest.trim_start()[name.len()..].trim_start();
                if !name.is_empty() && after.starts_with('{') {
                    let mut path = open.last().map(|(p, _, _)| p.clone()).unwrap_or_default();
                    path.push(name);
                    open.push((path, i, depth));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `word` at `i`, not inside a longer identifier (nor after `$`).
fn is_word_at(code: &str, i: usize, word: &str) -> bool {
    let b = code.as_bytes();
    code[i..].starts_with(word)
        && (i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b'$'))
        && b.get(i + word.len()).is_none_or(|c| !is_ident(*c))
}

/// Every path rooted at `crate`, `super` or `self` with at least one `::`,
/// `use` groups (`crate::{a, b::{c, d}}`) expanded, with its byte offset.
fn paths_in(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let root = ["crate", "super", "self"]
            .into_iter()
            .find(|w| is_word_at(code, i, w) && code[i + w.len()..].starts_with("::"));
        match root {
            Some(_) => {
                let mut p = Parser { code, at: i };
                let mut found = Vec::new();
                p.tree(Vec::new(), &mut found);
                out.extend(found.into_iter().map(|path| (i, path)));
                i = p.at.max(i + 1);
            }
            None => i += 1,
        }
    }
    out
}

struct Parser<'a> {
    code: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.code[self.at..].starts_with(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let s: String = self.code[self.at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if s.is_empty() {
            return None;
        }
        self.at += s.len();
        Some(s)
    }

    fn eat(&mut self, t: &str) -> bool {
        self.skip_ws();
        if self.code[self.at..].starts_with(t) {
            self.at += t.len();
            true
        } else {
            false
        }
    }

    /// A path, or a group of paths, after `prefix`.
    fn tree(&mut self, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        loop {
            if self.eat("{") {
                loop {
                    if self.eat("}") {
                        return;
                    }
                    self.tree(prefix.clone(), out);
                    if !self.eat(",") {
                        self.eat("}");
                        return;
                    }
                }
            }
            if self.eat("*") {
                out.push(prefix);
                return;
            }
            match self.ident() {
                Some(s) if s == "self" && !prefix.is_empty() => {}
                Some(s) => prefix.push(s),
                None => {
                    out.push(prefix);
                    return;
                }
            }
            if !self.eat("::") {
                out.push(prefix);
                return;
            }
        }
    }
}

/// The code of a file with comments, strings and character literals
/// blanked (newlines kept, so offsets still give line numbers).
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let blank = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend(s.iter().map(|c| if *c == b'\n' { b'\n' } else { b' ' }));
    };
    let mut i = 0;
    while i < b.len() {
        let prev_ident = i > 0 && is_ident(b[i - 1]);
        if b[i..].starts_with(b"//") {
            let end = b[i..]
                .iter()
                .position(|c| *c == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, &b[i..end]);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &b[i..j]);
            i = j;
        } else if !prev_ident
            && (b[i] == b'r' || b[i..].starts_with(b"br"))
            && raw_start(&b[i..]).is_some()
        {
            let (skip, hashes) = raw_start(&b[i..]).expect("checked");
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = i + skip;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |n| body + n + close.len());
            blank(&mut out, &b[i..end]);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank(&mut out, &b[i..end]);
            i = end;
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{1F600}', 'é'); a lifetime
            // has no closing quote.
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|c| *c == b'\'')
                    .map(|n| i + 2 + n + 1)
            } else {
                let ch = text[i + 1..].chars().next().map_or(0, char::len_utf8);
                (b.get(i + 1 + ch) == Some(&b'\'')).then_some(i + 2 + ch)
            };
            match end {
                Some(end) => {
                    blank(&mut out, &b[i..end]);
                    i = end;
                }
                None => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    // Blanking turns every byte of a character into a space, and what is
    // kept is copied whole: still UTF-8.
    String::from_utf8(out).expect("blanking keeps UTF-8")
}

/// `r"`, `r#"`, `br##"`…: the length of the opening and its `#` count.
fn raw_start(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = if b.starts_with(b"br") { 2 } else { 1 };
    let hashes = b[i..].iter().take_while(|c| **c == b'#').count();
    i += hashes;
    (b.get(i) == Some(&b'"')).then_some((i + 1, hashes))
}

#[test]
fn the_parser_reads_groups_and_skips_comments_and_strings() {
    let code = strip(
        "use crate::{a::{b, c::D}, e};\n// crate::x::y\nlet s = \"crate::z::w\";\nuse super::super::f::*;\nfn g<'a>(x: &'a str) -> char { 'c' }\nself::h::i();\n",
    );
    let got: Vec<(usize, String)> = paths_in(&code)
        .into_iter()
        .map(|(at, p)| (code[..at].matches('\n').count() + 1, p.join("::")))
        .collect();
    assert_eq!(
        got,
        [
            (1, "crate::a::b".to_string()),
            (1, "crate::a::c::D".to_string()),
            (1, "crate::e".to_string()),
            (4, "super::super::f".to_string()),
            (6, "self::h::i".to_string()),
        ]
    );
    let modules: BTreeSet<Vec<String>> = [vec!["a".to_string()], vec!["a".into(), "c".into()]]
        .into_iter()
        .collect();
    let here = vec!["q".to_string(), "r".to_string()];
    let path = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(
        resolve(&here, &path("crate::a::c::D"), &modules),
        Some(path("a::c"))
    );
    assert_eq!(
        resolve(&here, &path("super::super::a"), &modules),
        Some(path("a"))
    );
    assert_eq!(resolve(&here, &path("super::x"), &modules), Some(path("q")));
}
