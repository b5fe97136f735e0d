//! A minimal HTML report (`--html FILE`): the final console tables in a valid page. The
//! full report with charts is a later addition; this one already agrees with the console
//! because it prints the same tables from the same Snapshot.

use crate::console;
use crate::stats::Snapshot;

/// The report page for a finished run.
pub fn report(snapshot: &Snapshot, scenario: &str) -> String {
    let mut page =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str(&format!(
        "<title>loadgen report: {}</title>\n",
        escape(scenario)
    ));
    page.push_str("<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px;overflow-x:auto}</style>\n");
    page.push_str("</head>\n<body>\n");
    page.push_str(&format!("<h1>loadgen report: {}</h1>\n", escape(scenario)));
    page.push_str(&format!(
        "<p>{} requests, {} failures, {} users at the end.</p>\n",
        snapshot.aggregated.num_requests(),
        snapshot.aggregated.num_failures(),
        snapshot.user_count
    ));
    page.push_str("<h2>Request statistics</h2>\n<pre>");
    page.push_str(&escape(&console::request_table(
        snapshot,
        console::Rates::Total,
    )));
    page.push_str("</pre>\n<h2>Response time percentiles</h2>\n<pre>");
    page.push_str(&escape(&console::percentile_table(snapshot)));
    page.push_str("</pre>\n<h2>Failures</h2>\n<pre>");
    page.push_str(&escape(&console::error_report(snapshot)));
    page.push_str("</pre>\n</body>\n</html>\n");
    page
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_escaped_and_complete() {
        let snapshot = Snapshot::empty(std::time::SystemTime::UNIX_EPOCH);
        let page = report(&snapshot, "a<b>");
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"));
        assert!(page.contains("Aggregated"));
    }
}
