//! Simulated time and determinism helpers: wall-clock RFC 3339 stamps, durations scaled by
//! the scenario speed, a seeded PRNG, FNV hashing and image globs. No I/O here.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The sim's clock: timestamps written into objects are wall-clock (so `AGE` columns read
/// right), while every delay the cluster waits out (pod start, back-off, deadlines) is a
/// simulated duration divided by `speed`.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    speed: f64,
}

impl SimClock {
    pub fn new(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        SimClock { speed }
    }
    pub fn speed(&self) -> f64 {
        self.speed
    }
    /// Real time to wait for `sim` seconds of simulated time (capped at [`MAX_WAIT`], so that
    /// absurd inputs can never overflow an `Instant`).
    pub fn real(&self, sim: Duration) -> Duration {
        Duration::try_from_secs_f64(sim.as_secs_f64() / self.speed)
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT)
    }
    /// The instant at which `sim` simulated seconds from now have passed.
    pub fn after(&self, sim: Duration) -> Instant {
        Instant::now() + self.real(sim)
    }
    /// Simulated seconds elapsed since `since`.
    pub fn sim_elapsed(&self, since: Instant) -> Duration {
        Duration::try_from_secs_f64(since.elapsed().as_secs_f64() * self.speed).unwrap_or(MAX_WAIT)
    }
}

/// The longest wait the sim ever schedules (about ten years).
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Seconds since the Unix epoch as RFC 3339 (`2024-05-01T12:00:00Z`), the form Kubernetes uses.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// RFC 3339 with microseconds, as `MicroTime` fields (Event.eventTime, Lease renewTime) use.
pub fn rfc3339_micro(t: SystemTime) -> String {
    let base = rfc3339(t);
    let micros = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_micros())
        .unwrap_or(0);
    format!("{}.{micros:06}Z", base.trim_end_matches('Z'))
}

pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac]Z` back to seconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// splitmix64: small, seedable and good enough for names and jitter.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Kubernetes' `generateName` suffix: 5 characters from the alphabet without vowels.
    pub fn name_suffix(&mut self) -> String {
        (0..5)
            .map(|_| SAFE_ALPHABET[(self.next_u64() % SAFE_ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

/// The alphabet of k8s.io/apimachinery's `rand.String` / `SafeEncodeString`.
pub const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// 32-bit FNV-1a, the hash behind `pod-template-hash`.
pub fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// 64-bit FNV-1a, used to derive per-object seeds.
pub fn fnv64a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `SafeEncodeString(fmt.Sprint(hash))` as the Deployment controller names ReplicaSets.
pub fn safe_encode(n: u32) -> String {
    n.to_string()
        .bytes()
        .map(|b| SAFE_ALPHABET[b as usize % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// Shell-style glob: `*` any run, `?` one character, `[abc]` a class; everything else literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|i| glob_at(&p[1..], &t[i..])),
        Some('?') => !t.is_empty() && glob_at(&p[1..], &t[1..]),
        Some('[') => {
            let Some(end) = p.iter().position(|c| *c == ']') else {
                return !t.is_empty() && t[0] == '[' && glob_at(&p[1..], &t[1..]);
            };
            let class = &p[1..end];
            !t.is_empty() && class.contains(&t[0]) && glob_at(&p[end + 1..], &t[1..])
        }
        Some(c) => !t.is_empty() && t[0] == *c && glob_at(&p[1..], &t[1..]),
    }
}

/// Parses a Go-style duration (`5s`, `1m30s`, `250ms`, `2h`) or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(n).ok();
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let t = UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        assert_eq!(rfc3339(t), "2024-05-01T12:00:00Z");
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00Z"), Some(1_714_564_800));
    }

    #[test]
    fn globs_match_images() {
        assert!(glob_match("*:*-crash", "ghcr.io/acme/app:1.2-crash"));
        assert!(!glob_match("*:*-crash", "ghcr.io/acme/app:1.2"));
        assert!(glob_match("nginx:1.2?", "nginx:1.25"));
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("5x"), None);
    }
}
