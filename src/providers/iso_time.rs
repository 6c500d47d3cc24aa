//! Times as the clouds send them: every ISO 8601 form seen in their answers (with or without
//! seconds, with fractional seconds, `Z` or an offset, `T` or a space), read by one parser
//! that Alibaba and AWS share. A time that cannot be read is `None`: "time unknown", never
//! the epoch.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Date-and-time layouts without a zone, tried after the zone is split off.
const LAYOUTS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y%m%dT%H%M%S%.f",
    "%Y%m%dT%H%M",
];

/// Reads `text` as an ISO 8601 date and time with a zone (`Z`, `+08:00`, `+0800`, `+08`).
/// A time without a zone is not guessed at: it is unknown.
pub fn parse_cloud_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let text = text.replacen(' ', "T", 1);
    let (local, offset_secs) = split_zone(&text)?;
    let naive = LAYOUTS
        .iter()
        .find_map(|layout| NaiveDateTime::parse_from_str(local, layout).ok())?;
    let utc = naive - chrono::Duration::seconds(offset_secs);
    Some(DateTime::from_naive_utc_and_offset(utc, Utc))
}

/// Splits the zone off the end: (the rest, the zone's offset east of UTC in seconds).
fn split_zone(text: &str) -> Option<(&str, i64)> {
    if let Some(rest) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Some((rest, 0));
    }
    // The sign of the zone comes after the `T`; a `-` before it belongs to the date.
    let time_start = text.find('T')?;
    let sign_at = time_start + text[time_start..].rfind(['+', '-'])?;
    let (rest, zone) = text.split_at(sign_at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((rest, sign * (hours * 3600 + minutes * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 4, 5, h, m, s).unwrap()
    }

    #[test]
    fn reads_alibaba_minute_precision() {
        assert_eq!(parse_cloud_time("2025-04-05T02:00Z"), Some(at(2, 0, 0)));
        assert_eq!(parse_cloud_time("2025-04-05T02:07Z"), Some(at(2, 7, 0)));
    }

    #[test]
    fn reads_seconds_fractions_and_offsets() {
        assert_eq!(parse_cloud_time("2025-04-05T02:00:09Z"), Some(at(2, 0, 9)));
        assert_eq!(
            parse_cloud_time("2025-04-05T02:00:09.123Z").map(|t| t.timestamp_millis()),
            Some(at(2, 0, 9).timestamp_millis() + 123)
        );
        assert_eq!(
            parse_cloud_time("2025-04-05T10:00:00+08:00"),
            Some(at(2, 0, 0))
        );
        assert_eq!(
            parse_cloud_time("2025-04-05T10:00+08:00"),
            Some(at(2, 0, 0))
        );
        assert_eq!(parse_cloud_time("2025-04-05T10:30+0830"), Some(at(2, 0, 0)));
        assert_eq!(parse_cloud_time("2025-04-04T22:00-04"), Some(at(2, 0, 0)));
        assert_eq!(parse_cloud_time("2025-04-05 02:00:00Z"), Some(at(2, 0, 0)));
        assert_eq!(parse_cloud_time("20250405T020000Z"), Some(at(2, 0, 0)));
        assert_eq!(
            parse_cloud_time("2025-04-05T02:00:00.000000+00:00"),
            Some(at(2, 0, 0))
        );
    }

    #[test]
    fn unreadable_is_unknown_not_the_epoch() {
        for text in [
            "",
            "yesterday",
            "2025-04-05",
            "2025-04-05T02:00",
            "2025-13-05T02:00Z",
        ] {
            assert_eq!(parse_cloud_time(text), None, "{text:?}");
        }
    }
}
