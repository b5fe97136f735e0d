//! Writes a [`Profile`] as TOML in the same layout as the built-in files: one section per
//! route, each distribution and failure on one line as an inline table.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Behaviour, Profile, ROUTES};

/// The profile as TOML that reads back to an equal profile.
pub(super) fn to_toml(p: &Profile) -> Result<String, toml::ser::Error> {
    let mut out = String::new();
    line(&mut out, "name", &p.name)?;
    line(&mut out, "description", &p.description)?;
    out.push_str("\n[defaults]\n");
    behaviour(&mut out, &p.defaults)?;
    out.push_str("\n[jobs]\n");
    line(&mut out, "duration", &p.jobs.duration)?;
    line(&mut out, "failure_probability", &p.jobs.failure_probability)?;
    // Routes in the platform's order, then any others (validation rejects those, but a
    // profile built in code may hold them).
    let known = ROUTES.iter().filter_map(|r| p.routes.get_key_value(*r));
    let others = p
        .routes
        .iter()
        .filter(|(r, _)| !ROUTES.contains(&r.as_str()));
    for (route, b) in known.chain(others) {
        let _ = write!(out, "\n[routes.{}]\n", inline(route)?);
        behaviour(&mut out, b)?;
    }
    if let Some(c) = &p.capacity {
        out.push_str("\n[capacity]\n");
        if let Some(v) = c.workers {
            line(&mut out, "workers", &v)?;
        }
        if let Some(v) = c.queue {
            line(&mut out, "queue", &v)?;
        }
        if let Some(v) = c.queue_timeout_ms {
            line(&mut out, "queue_timeout_ms", &v)?;
        }
        if let Some(v) = &c.rate_limit {
            line(&mut out, "rate_limit", v)?;
        }
        if let Some(v) = &c.degradation {
            line(&mut out, "degradation", v)?;
        }
        if !c.stall.is_empty() {
            line(&mut out, "stall", &c.stall)?;
        }
    }
    Ok(out)
}

fn behaviour(out: &mut String, b: &Behaviour) -> Result<(), toml::ser::Error> {
    line(out, "latency", &b.latency)?;
    if !b.failures.is_empty() {
        out.push_str("failures = [\n");
        for rule in &b.failures {
            let _ = writeln!(out, "  {},", inline(rule)?);
        }
        out.push_str("]\n");
    }
    if b.cpu_ms != 0.0 {
        line(out, "cpu_ms", &b.cpu_ms)?;
    }
    Ok(())
}

fn line<T: Serialize + ?Sized>(
    out: &mut String,
    key: &str,
    value: &T,
) -> Result<(), toml::ser::Error> {
    let _ = writeln!(out, "{key} = {}", inline(value)?);
    Ok(())
}

/// One value in TOML's inline form, fields in declaration order.
fn inline<T: Serialize + ?Sized>(value: &T) -> Result<String, toml::ser::Error> {
    let mut s = String::new();
    value.serialize(toml::ser::ValueSerializer::new(&mut s))?;
    Ok(s)
}
