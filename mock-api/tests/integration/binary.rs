//! The `mock-api` program itself: started as a user starts it, with its log redirected.

use crate::support::program::Program;

#[test]
fn a_redirected_log_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("mock-api.db").display());
    let program = Program::start(&["--profile", "fast", "--database", &db]);
    let seen = program.log();
    assert!(seen.contains("listening"), "no start line in:\n{seen}");
    assert!(
        !seen.contains('\u{1b}'),
        "colour codes in a redirected log:\n{seen:?}"
    );
}
