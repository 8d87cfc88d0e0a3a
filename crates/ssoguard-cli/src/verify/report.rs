//! The report of `ssoguard verify`: its steps, the error, and the text form (`--json` prints the
//! same content as JSON).

use super::options::VerifyOptions;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

/// The machine-readable report (`--json`); the text output carries the same content.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(super) valid: bool,
    pub(super) exit_code: u8,
    pub(super) issuer: Option<String>,
    pub(super) audiences: Vec<String>,
    pub(super) algorithms: Vec<String>,
    pub(super) steps: Vec<Step>,
    pub(super) error: Option<ErrorReport>,
    pub(super) claims: Option<Value>,
}

#[derive(Debug, Serialize)]
pub(super) struct Step {
    pub(super) step: &'static str,
    pub(super) ok: Option<bool>,
    pub(super) decisive: bool,
    pub(super) detail: String,
    pub(super) hint: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct ErrorReport {
    pub(super) kind: String,
    pub(super) message: String,
    pub(super) step: Option<&'static str>,
}

impl Step {
    pub(super) fn new(step: &'static str, ok: Option<bool>, detail: impl Into<String>) -> Self {
        Step {
            step,
            ok,
            decisive: false,
            detail: detail.into(),
            hint: None,
        }
    }
    pub(super) fn ok(step: &'static str, detail: impl Into<String>) -> Self {
        Self::new(step, Some(true), detail)
    }
    pub(super) fn fail(step: &'static str, detail: impl Into<String>) -> Self {
        Self::new(step, Some(false), detail)
    }
    pub(super) fn skip(step: &'static str, detail: impl Into<String>) -> Self {
        Self::new(step, None, detail)
    }
    /// Adds a hint (a second one is appended as its own sentence).
    pub(super) fn hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        self.hint = Some(match self.hint.take() {
            Some(old) => format!("{old}. {hint}"),
            None => hint,
        });
        self
    }
}

/// Wraps `text` at word boundaries to `width` columns, every line indented by `indent`.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && indent + line.chars().count() + 1 + word.chars().count() > width {
            lines.push(format!("{pad}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{pad}{line}"));
    }
    lines.join("\n")
}

/// The text form of a report.
pub(super) fn render_text(report: &Report, opts: &VerifyOptions) -> String {
    let mut out = String::new();
    if report.steps.is_empty() {
        if let Some(e) = &report.error {
            let _ = writeln!(out, "error: {}", e.message);
        }
        return out;
    }
    let audience = if opts.audiences.is_empty() {
        "not checked".to_string()
    } else {
        opts.audiences.join(", ")
    };
    let algs = if opts.algorithms.is_empty() {
        "all".to_string()
    } else {
        report.algorithms.join(", ")
    };
    let _ = writeln!(
        out,
        "ssoguard verify: issuer {}, audience {audience}, algorithms {algs}",
        opts.issuer
    );
    for step in &report.steps {
        let mark = match step.ok {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        let label = if step.step == "jwks" {
            "JWKS"
        } else {
            step.step
        };
        let _ = writeln!(out, "  {label:<10} {mark} {}", step.detail);
        if let Some(hint) = &step.hint {
            let word = if step.ok == Some(false) {
                "hint"
            } else {
                "note"
            };
            let _ = writeln!(out, "{}", wrap(&format!("{word}: {hint}"), 15, 100));
        }
    }
    let verdict = match (&report.error, report.valid) {
        (_, true) => {
            let sub = report
                .claims
                .as_ref()
                .and_then(|c| c.get("sub"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!("VALID: the library accepted the token (sub {sub})")
        }
        (Some(e), false) if report.exit_code == 3 => format!(
            "UNAVAILABLE: {} [{}] — the SSO's keys could not be loaded (exit 3)",
            e.message, e.kind
        ),
        (Some(e), false) if report.exit_code == 2 => {
            format!("NOT A TOKEN: {} (exit 2)", e.message)
        }
        (Some(e), false) => format!(
            "INVALID: {} [{} at step {}] (exit 1)",
            e.message,
            e.kind,
            e.step.unwrap_or("?")
        ),
        (None, false) => "INVALID".to_string(),
    };
    let _ = writeln!(out, "{verdict}");
    out
}
