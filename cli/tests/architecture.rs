//! ARCHITECTURE.md stays true to the tree: every path it names exists.

use std::path::Path;

#[test]
fn every_path_architecture_md_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut named = 0;
    let mut missing = Vec::new();
    for (i, chunk) in text.split('`').enumerate() {
        // Odd chunks are inside backticks.
        let looks_like_path = chunk.contains('/')
            && !chunk.contains(' ')
            && chunk
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
        if i % 2 == 1 && looks_like_path {
            named += 1;
            if !root.join(chunk).exists() {
                missing.push(chunk.to_owned());
            }
        }
    }
    assert!(named > 30, "ARCHITECTURE.md names only {named} paths");
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names missing paths: {missing:?}"
    );
}
