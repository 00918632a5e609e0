//! Every committed input of the HTTP/1.1 response reader's fuzz target
//! (`fuzz/corpus/h1_response/`: seeds and the cases it once broke), read
//! whole and in pieces with the same outcome.

use std::path::Path;

#[test]
fn the_response_reader_holds_on_every_committed_input() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    stampede_common::fuzzing::replay(&root, "h1_response", stampede_worker::fuzzing::h1_response);
}
