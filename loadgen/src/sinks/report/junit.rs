//! JUnit XML for CI systems: one test case per criterion (failed when breached), one
//! more when an `abort_on_fail` criterion stopped the run, and the platform's summary
//! lines as the suite's output.

use std::fmt::Write as _;

use super::{elapsed_seconds, escape, iso_time, Inputs};
use crate::verdict::criteria::{with_unit, Outcome};

/// The JUnit XML document.
pub(crate) fn junit(i: &Inputs<'_>) -> String {
    let v = i.verdict;
    let aborted = usize::from(v.aborted.is_some());
    let tests = v.results.len() + aborted;
    let failures = v.breaches().count() + aborted;
    let time = elapsed_seconds(i.snapshot);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"loadgen\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"loadgen criteria: {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\" timestamp=\"{}\">",
        escape(&i.settings.scenario),
        iso_time(i.snapshot.start).trim_end_matches('Z')
    );
    let outcome = match v.outcome() {
        Outcome::NoCriteria => "NO CRITERIA",
        other => other.word(),
    };
    let _ = writeln!(
        out,
        "    <properties>\n      <property name=\"outcome\" value=\"{outcome}\"/>\n      <property name=\"seed\" value=\"{}\"/>\n      <property name=\"users\" value=\"{}\"/>\n    </properties>",
        i.settings.seed, i.settings.users
    );
    for r in &v.results {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            escape(&r.row),
            escape(&r.criterion.to_string())
        );
        if r.passed {
            out.push_str("/>\n");
        } else {
            let measured = format!("measured {}", r.measured());
            let _ = writeln!(
                out,
                ">\n      <failure type=\"threshold\" message=\"{}\">{}</failure>\n    </testcase>",
                escape(&r.breach()),
                escape(&measured)
            );
        }
    }
    if let Some(abort) = &v.aborted {
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"abort_on_fail: {}\" time=\"0\">\n      <failure type=\"aborted\" message=\"{}\">measured {}</failure>\n    </testcase>",
            escape(&abort.row),
            escape(&abort.criterion.to_string()),
            escape(&abort.describe()),
            escape(&with_unit(abort.criterion.metric, abort.value))
        );
    }
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>\n  </testsuite>\n</testsuites>",
        escape(&crate::sinks::summary::platform_summary(
            i.snapshot,
            v,
            i.baselines
        ))
    );
    out
}
