//! Better Auth's dates as they reach ssoguard: ISO 8601 texts (SQLite stores `…Z`, Postgres'
//! `row_to_json` writes `…+00:00` or a zone-less time, get-session answers `…Z`) or numbers of
//! milliseconds.

use serde_json::Value;

/// A date column as Unix milliseconds: an ISO 8601 text (SQLite `…Z`, Postgres
/// `row_to_json`'s `…+00:00` or zone-less) or a number of milliseconds.
pub(crate) fn millis(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_iso(s),
        _ => None,
    }
}

fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !matches!(s.as_bytes().get(10), Some(b'T' | b' ')) {
        return None;
    }
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        let padded = format!("{:0<3}", &fraction[..end.min(3)]);
        ms = padded.parse().ok()?;
        rest = &fraction[end..];
    }
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zone = zone[1..].replace(':', "");
            let hours: i64 = zone.get(0..2)?.parse().ok()?;
            let minutes: i64 = zone.get(2..4).unwrap_or("00").parse().ok()?;
            sign * (hours * 60 + minutes)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_in_every_form_better_auth_stores() {
        let want = 1_795_997_918_399; // 2026-11-30T00:18:38.399Z
        for text in [
            "2026-11-30T00:18:38.399Z",
            "2026-11-30T00:18:38.399+00:00",
            "2026-11-30T01:18:38.399+01:00",
            "2026-11-30 00:18:38.399",
            "2026-11-30T00:18:38.399123",
        ] {
            assert_eq!(millis(&json!(text)), Some(want), "{text}");
        }
        assert_eq!(millis(&json!(want)), Some(want));
        assert_eq!(millis(&json!("1970-01-01T00:00:00Z")), Some(0));
        for bad in ["", "yesterday", "2026-11-30", "2026-11-30T00:18:38+xx"] {
            assert_eq!(millis(&json!(bad)), None, "{bad}");
        }
    }
}
