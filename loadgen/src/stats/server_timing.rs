//! The target's own time for a request, as its `Server-Timing` header (W3C) states it:
//! the `app` metric's duration, which a client subtracts from its response time to learn
//! its own overhead.

/// The `app` metric's duration in a `Server-Timing` value (`app;dur=12.345, db;dur=1`),
/// in whole microseconds; `None` without one or when it does not parse. Read in place:
/// nothing is allocated per response.
pub fn server_timing_app_us(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let metric = text.split(',').find(|m| {
        m.split(';')
            .next()
            .is_some_and(|name| name.trim().eq_ignore_ascii_case("app"))
    })?;
    let dur = metric.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim().eq_ignore_ascii_case("dur").then_some(v.trim())
    })?;
    let ms: f64 = dur.trim_matches('"').parse().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| (ms * 1000.0).round() as u64)
}
