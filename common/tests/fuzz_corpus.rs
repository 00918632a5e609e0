//! Every committed input of the histogram, scenario and template fuzz
//! targets (`fuzz/corpus/`: seeds and the cases they once broke).

use std::path::{Path, PathBuf};

use stampede_common::fuzzing;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_histogram_decoder_agrees_with_hdrhistogram_on_every_committed_input() {
    fuzzing::replay(&root(), "histogram", fuzzing::histogram);
}

#[test]
fn scenario_errors_are_well_formed_on_every_committed_input() {
    fuzzing::replay(&root(), "scenario", fuzzing::scenario);
}

#[test]
fn templates_compile_and_render_on_every_committed_input() {
    fuzzing::replay(&root(), "template", fuzzing::template);
}
