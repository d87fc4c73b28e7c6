//! Reading many shops in one statement: `shop IN ($n, …)` lists, in chunks
//! that keep under both databases' bound-parameter limits (SQLite 32,766,
//! PostgreSQL 65,535).

/// Shops per statement: 1,000 shops are one pass.
pub(super) const CHUNK: usize = 1000;

/// `$first, $first+1, …` for `n` parameters.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(VALUES ($first), …)`: a table of `n` parameters whose column both
/// databases name `column1`.
pub(super) fn values_table(first: usize, n: usize) -> String {
    let rows: Vec<String> = (first..first + n).map(|i| format!("(${i})")).collect();
    format!("(VALUES {})", rows.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(values_table(1, 2), "(VALUES ($1), ($2))");
    }
}
