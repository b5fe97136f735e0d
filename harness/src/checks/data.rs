//! Data: every trade loadgen saw succeed is a row in the database, and no failed one
//! is. The mock writes a trade only on success (a failed trade skips the handler), so
//! the successful trade responses equal the trade rows written during the run, exactly
//! (none when the run sent no trade).

use super::Ctx;
use crate::check::Check;

const TRADE_ROUTE: &str = "POST /api/trading/execute";

/// The trade-row check.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let rows = ctx.rows();
    let trades: Vec<_> = rows
        .iter()
        .filter(|(_, route)| *route == Some(TRADE_ROUTE))
        .collect();
    let succeeded: u64 = trades
        .iter()
        .map(|(r, _)| r.num_requests() - r.num_failures())
        .sum();
    let failed: u64 = trades.iter().map(|(r, _)| r.num_failures()).sum();
    let written = ctx.ev.trades_after - ctx.ev.trades_before;
    vec![Check::new(
        "data trades written",
        format!("{succeeded} rows (successful trades; {failed} failed, not written)"),
        format!("{written} rows written during the run"),
        "exact",
        i64::try_from(succeeded).is_ok_and(|s| s == written),
    )]
}
