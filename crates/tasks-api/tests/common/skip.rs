//! Skipping a test whose prerequisite is missing (Node.js, `TEST_DATABASE_URL`, Redis), so that
//! it is counted as skipped, never as passed.

use std::io::Write as _;

/// Records that the running test cannot run here, and why; the caller then returns.
///
/// Under `CI` this panics instead: CI must never skip. Otherwise it prints a loud `SKIPPED` line
/// and, when `SSOGUARD_SKIP_LOG` names a file (`scripts/test` sets it), appends
/// `<package>/<test binary>::<test>: <reason>` to it, for the summary's skipped list. The test's
/// name is its thread's: libtest runs each test on a thread named after it, and `#[tokio::test]`
/// runs the body on that thread.
pub fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{reason}; CI is set, so this is a failure, not a skip");
    }
    let thread = std::thread::current();
    let mut test = format!(
        "{}/{}::{}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_CRATE_NAME"),
        thread.name().unwrap_or("unknown test")
    );
    if let Ok(setup) = std::env::var("SSOGUARD_INTEROP_SETUP") {
        test.push_str(&format!(" (setup {setup})"));
    }
    if let Some(path) = std::env::var_os("SSOGUARD_SKIP_LOG") {
        let line = format!("{test}: {reason}\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n*** SKIPPED {test}: {reason} ***\n"
    );
}
