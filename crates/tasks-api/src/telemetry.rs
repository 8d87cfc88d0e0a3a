//! Logging set-up: `RUST_LOG` filter, pretty or JSON lines.
//!
//! Request logging marks `Authorization` and `Cookie` as sensitive (see `startup`), and no code
//! path logs a token: the library logs only error kinds.

use crate::config::LogFormat;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (once; later calls are ignored).
///
/// `LOG_FORMAT` picks the format. The pretty format is coloured only when stderr is a terminal
/// and `NO_COLOR` is unset, so a log file or a collector never receives ANSI escape codes; JSON
/// lines are never coloured.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .try_init(),
        LogFormat::Json => builder.with_ansi(false).json().try_init(),
    };
}

/// Whether to colour: on a terminal, unless `NO_COLOR` is set to a non-empty value
/// (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
