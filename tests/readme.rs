//! The README is read on other machines: it names files by their place in
//! the repository, never by a path on the machine it was written on.

#[test]
fn readme_names_no_absolute_paths_of_a_workstation() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let absolute: Vec<(usize, &str)> = readme
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            [
                "`/work/", " /work/", "`/home/", " /home/", "`/Users/", " /Users/",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .map(|(i, l)| (i + 1, l))
        .collect();
    assert!(
        absolute.is_empty(),
        "absolute paths in README.md: {absolute:?}"
    );
}
