//! Durations as people write them in config and on the command line: `500ms`, `30s`, `5m`,
//! `1h30m`, `2d`. A bare number is seconds.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {reason} (write e.g. 30s, 5m, 1h30m, 500ms)")]
pub struct DurationError {
    pub text: String,
    pub reason: &'static str,
}

impl HumanDuration {
    pub fn from_secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }

    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let err = |reason| DurationError {
            text: text.to_string(),
            reason,
        };
        let t = text.trim();
        if t.is_empty() {
            return Err(err("empty"));
        }
        if let Ok(secs) = t.parse::<u64>() {
            return Ok(HumanDuration::from_secs(secs));
        }
        let mut total = Duration::ZERO;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| err("a number needs a unit"))?;
            if digits == 0 {
                return Err(err("expected a number"));
            }
            let n: f64 = rest[..digits].parse().map_err(|_| err("bad number"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let secs = match unit {
                "ms" => n / 1000.0,
                "s" => n,
                "m" => n * 60.0,
                "h" => n * 3600.0,
                "d" => n * 86400.0,
                _ => return Err(err("unknown unit (use ms, s, m, h or d)")),
            };
            if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
                return Err(err("out of range"));
            }
            total += Duration::from_secs_f64(secs);
        }
        Ok(HumanDuration(total))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return write!(f, "0s");
        }
        if !ms.is_multiple_of(1000) && ms < 60_000 {
            return if ms < 1000 {
                write!(f, "{ms}ms")
            } else {
                write!(f, "{:.1}s", ms as f64 / 1000.0)
            };
        }
        let mut s = self.0.as_secs();
        let h = s / 3600;
        s %= 3600;
        let m = s / 60;
        s %= 60;
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 30s, 5m or 1h30m")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(HumanDuration::from_secs(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(HumanDuration::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                HumanDuration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        let cases = [
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("90", 90_000),
            ("1.5s", 1_500),
            ("2d", 172_800_000),
        ];
        for (text, ms) in cases {
            assert_eq!(
                HumanDuration::parse(text).map(|d| d.0.as_millis()),
                Ok(ms),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_nonsense_with_a_hint() {
        for bad in ["", "5x", "m", "5 m", "-5s"] {
            let e = HumanDuration::parse(bad).unwrap_err();
            assert!(e.to_string().contains("write e.g."), "{bad}: {e}");
        }
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(
            HumanDuration::parse("1h30m").map(|d| d.to_string()),
            Ok("1h30m".into())
        );
        assert_eq!(
            HumanDuration::parse("500ms").map(|d| d.to_string()),
            Ok("500ms".into())
        );
        assert_eq!(
            HumanDuration::parse("10m").map(|d| d.to_string()),
            Ok("10m".into())
        );
    }
}
