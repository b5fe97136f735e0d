//! The HTML report's charts, drawn by plotters into inline SVG strings: requests/s and
//! failures/s, p50/p95/p99 of the whole run, p50/p95 per interval (Locust's 10 s window)
//! and users over time (from the snapshot's Aggregated history rows), and each row's latency percentile spectrum in HdrHistogram's style (x on a
//! "nines" scale: 0%, 90%, 99%, 99.9%, ...; y the response time).
//!
//! A staged run's time charts mark where each stage started: a dashed vertical line at
//! the stage's start, labelled `stage 2: 500 users at 100/s`.

use plotters::prelude::*;

use crate::plan::load::StageMark;
use crate::stats::{unix_seconds, HistoryRow, RequestStats, Snapshot, AGGREGATED_NAME};

/// Chart size in SVG user units (the page scales it to its width).
const WIDTH: u32 = 900;
/// Width of the response-time charts, which the page shows side by side (their text
/// then reads at the same size as the full-width charts').
const PAIR_WIDTH: u32 = 600;
/// Height of a time-series chart.
const HEIGHT: u32 = 300;
/// Height of a spectrum chart.
const SPECTRUM_HEIGHT: u32 = 260;
/// Points drawn along a spectrum.
const SPECTRUM_POINTS: usize = 240;

const BLUE_LINE: RGBColor = RGBColor(31, 119, 180);
const RED_LINE: RGBColor = RGBColor(214, 39, 40);
const GREEN_LINE: RGBColor = RGBColor(44, 160, 44);
const ORANGE_LINE: RGBColor = RGBColor(255, 127, 14);
const GREY_GRID: RGBColor = RGBColor(225, 225, 225);
/// The stage markers' colour (used by nothing else, so a marker is told by its stroke).
pub(crate) const STAGE_MARK: RGBColor = RGBColor(110, 84, 148);
/// Label rows the stage labels cycle through, so that close stages do not overprint.
const STAGE_LABEL_ROWS: usize = 3;

/// One line of a chart.
struct Series {
    label: &'static str,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

/// Axes and titles of a chart.
struct Frame<'a> {
    caption: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    width: u32,
    height: u32,
    x_max: f64,
    /// Most labels on the x axis.
    x_labels: usize,
    x_format: &'a dyn Fn(&f64) -> String,
    /// Vertical markers: (x, label).
    marks: &'a [(f64, String)],
}

/// The boundaries a run's time charts mark: every stage's start with its label, when the
/// run had more than one stage (a plain users/rate or constant-rate run has one stage
/// and no boundary to show).
pub(crate) fn stage_boundaries(stages: &[StageMark]) -> Vec<(f64, String)> {
    if stages.len() < 2 {
        return Vec::new();
    }
    stages
        .iter()
        .map(|m| {
            (
                m.at.as_secs_f64(),
                format!("stage {}: {}", m.stage + 1, m.label),
            )
        })
        .collect()
}

/// The Aggregated row's history lines, oldest first.
fn aggregated_history(snapshot: &Snapshot) -> Vec<&HistoryRow> {
    snapshot
        .history
        .iter()
        .filter(|h| h.method.is_empty() && h.name == AGGREGATED_NAME)
        .collect()
}

/// How many labels a time axis of `span` seconds gets: at most 12, and never more than
/// one per whole second, since the labels print whole seconds (more would repeat them).
fn time_labels(span: f64) -> usize {
    (span.floor() as usize + 1).clamp(2, 12)
}

/// Seconds from the run's start to a history line.
fn seconds_since_start(snapshot: &Snapshot, row: &HistoryRow) -> f64 {
    row.timestamp.saturating_sub(unix_seconds(snapshot.start)) as f64
}

/// Draws a line chart into an SVG string.
fn line_chart(frame: &Frame<'_>, series: &[Series]) -> Result<String, String> {
    let y_top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let y_max = if y_top > 0.0 { y_top * 1.1 } else { 1.0 };
    let x_max = if frame.x_max > 0.0 { frame.x_max } else { 1.0 };
    // Whole numbers on the y axis unless the values are small.
    let y_format = move |y: &f64| {
        if y_max >= 10.0 {
            format!("{y:.0}")
        } else {
            format!("{y:.2}")
        }
    };
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (frame.width, frame.height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(frame.caption, ("sans-serif", 20))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GREY_GRID)
            .x_desc(frame.x_desc)
            .y_desc(frame.y_desc)
            .x_labels(frame.x_labels)
            .x_label_formatter(frame.x_format)
            .y_label_formatter(&y_format)
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;
        for s in series {
            let colour = s.colour;
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        // Labels near the y axis start below the legend (upper left), which would hide them.
        let legend_height = if series.len() > 1 {
            22 * i32::try_from(series.len()).unwrap_or(0) + 8
        } else {
            0
        };
        draw_marks(&mut chart, frame, (x_max, y_max), legend_height)?;
        // A legend only helps when there is more than one line.
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(GREY_GRID)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The stage markers: a dashed line from the x axis to the top of the plot and its label
/// near the top, on a white ground so that it reads over the lines. Markers outside the
/// x range (a stage that started after the last history line) are left out.
fn draw_marks<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    frame: &Frame<'_>,
    (x_max, y_max): (f64, f64),
    legend_height: i32,
) -> Result<(), String> {
    /// How far right of the y axis the legend reaches (pixels).
    const LEGEND_WIDTH: i32 = 130;
    let left_edge = chart.backend_coord(&(0.0, y_max)).0;
    let style = STAGE_MARK.stroke_width(1);
    for (n, (x, label)) in frame.marks.iter().enumerate() {
        if !(0.0..=x_max).contains(x) {
            continue;
        }
        chart
            .draw_series(DashedLineSeries::new([(*x, 0.0), (*x, y_max)], 6, 4, style))
            .map_err(|e| e.to_string())?;
        let (px, top) = chart.backend_coord(&(*x, y_max));
        let row = i32::try_from(n % STAGE_LABEL_ROWS).unwrap_or(0);
        let below_legend = if px - left_edge < LEGEND_WIDTH {
            legend_height
        } else {
            0
        };
        let y = top + 4 + 16 * row + below_legend;
        // Labels right of their line, unless that runs off the plot's right edge.
        let width = i32::try_from(label.chars().count()).unwrap_or(0) * 6 + 6;
        let right_edge = chart.backend_coord(&(x_max, y_max)).0;
        let left = if px + 3 + width > right_edge {
            px - 3 - width
        } else {
            px + 3
        };
        let area = chart.plotting_area().strip_coord_spec();
        let (ox, oy) = area.get_base_pixel();
        area.draw(&Rectangle::new(
            [(left - ox, y - oy), (left - ox + width, y - oy + 14)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(|e| e.to_string())?;
        area.draw(&Text::new(
            label.clone(),
            (left - ox + 3, y - oy + 1),
            ("sans-serif", 11).into_font().color(&STAGE_MARK),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn whole_seconds(x: &f64) -> String {
    format!("{x:.0}")
}

/// The last history line's time from the start (at least 1 s).
fn history_span(snapshot: &Snapshot, rows: &[&HistoryRow]) -> f64 {
    rows.last()
        .map_or(1.0, |r| seconds_since_start(snapshot, r))
        .max(1.0)
}

/// Requests/s and failures/s over time (Locust's current rates, as the history has them),
/// with the stage boundaries.
pub(crate) fn rps_chart(snapshot: &Snapshot, stages: &[StageMark]) -> Result<String, String> {
    let marks = stage_boundaries(stages);
    let rows = aggregated_history(snapshot);
    let span = history_span(snapshot, &rows);
    let points = |f: fn(&HistoryRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|r| (seconds_since_start(snapshot, r), f(r)))
            .collect()
    };
    line_chart(
        &Frame {
            caption: "Requests and failures per second",
            x_desc: "seconds since start",
            y_desc: "per second",
            width: WIDTH,
            height: HEIGHT,
            x_max: span,
            x_labels: time_labels(span),
            x_format: &whole_seconds,
            marks: &marks,
        },
        &[
            Series {
                label: "requests/s",
                colour: BLUE_LINE,
                points: points(|r| r.current_rps),
            },
            Series {
                label: "failures/s",
                colour: RED_LINE,
                points: points(|r| r.current_fail_per_sec),
            },
        ],
    )
}

/// The 50th, 95th and 99th percentiles over time, as `_stats_history.csv` has them: of
/// the whole run so far, or of the last ten seconds with full history (as Locust); with
/// the stage boundaries.
pub(crate) fn response_time_chart(
    snapshot: &Snapshot,
    stages: &[StageMark],
) -> Result<String, String> {
    // Full history writes request rows too, and then every row's percentiles are current.
    let current = snapshot.history.iter().any(|h| !h.method.is_empty());
    let caption = if current {
        "Response time percentiles, last 10 s (ms)"
    } else {
        "Response time percentiles, whole run so far (ms)"
    };
    // Index into the history's percentile columns (50%, ..., 95% at 5, 99% at 7).
    let column = |index: usize| move |r: &HistoryRow| r.percentiles_ms.map(|p| p[index]);
    time_chart(
        snapshot,
        stages,
        caption,
        [
            ("p50", GREEN_LINE, &column(0)),
            ("p95", ORANGE_LINE, &column(5)),
            ("p99", RED_LINE, &column(7)),
        ],
    )
}

/// The response times of each interval, as Locust's report charts them: every second,
/// the median and 95th percentile of the requests of the last ten seconds (Locust's
/// current-response-time window), so that a slow minute shows as it happened instead of
/// being averaged into the whole run.
pub(crate) fn interval_response_time_chart(
    snapshot: &Snapshot,
    stages: &[StageMark],
) -> Result<String, String> {
    time_chart(
        snapshot,
        stages,
        "Response times per interval, last 10 s (ms)",
        [
            ("p50", GREEN_LINE, &|r: &HistoryRow| r.current_p50_ms),
            ("p95", ORANGE_LINE, &|r: &HistoryRow| r.current_p95_ms),
        ],
    )
}

/// One line of a response-time chart: its label, colour and value at a history line.
type HistoryLine<'a> = (
    &'static str,
    RGBColor,
    &'a dyn Fn(&HistoryRow) -> Option<f64>,
);

/// A response-time chart over the Aggregated history: one line per [`HistoryLine`],
/// seconds since the start on x, with the stage boundaries.
fn time_chart<const N: usize>(
    snapshot: &Snapshot,
    stages: &[StageMark],
    caption: &str,
    lines: [HistoryLine<'_>; N],
) -> Result<String, String> {
    let marks = stage_boundaries(stages);
    let rows = aggregated_history(snapshot);
    let span = history_span(snapshot, &rows);
    let series: Vec<Series> = lines
        .iter()
        .map(|(label, colour, value)| Series {
            label,
            colour: *colour,
            points: rows
                .iter()
                .filter_map(|r| value(r).map(|v| (seconds_since_start(snapshot, r), v)))
                .collect(),
        })
        .collect();
    line_chart(
        &Frame {
            caption,
            x_desc: "seconds since start",
            y_desc: "ms",
            width: PAIR_WIDTH,
            height: HEIGHT,
            x_max: span,
            x_labels: time_labels(span),
            x_format: &whole_seconds,
            marks: &marks,
        },
        &series,
    )
}

/// Users running over time, with the stage boundaries.
pub(crate) fn users_chart(snapshot: &Snapshot, stages: &[StageMark]) -> Result<String, String> {
    let marks = stage_boundaries(stages);
    let rows = aggregated_history(snapshot);
    let span = history_span(snapshot, &rows);
    line_chart(
        &Frame {
            caption: "Users",
            x_desc: "seconds since start",
            y_desc: "users",
            width: WIDTH,
            height: HEIGHT,
            x_max: span,
            x_labels: time_labels(span),
            x_format: &whole_seconds,
            marks: &marks,
        },
        &[Series {
            label: "users",
            colour: BLUE_LINE,
            points: rows
                .iter()
                .map(|r| (seconds_since_start(snapshot, r), f64::from(r.user_count)))
                .collect(),
        }],
    )
}

/// `0%`, `90%`, `99%`, `99.9%`... for a position on the nines scale (x = -log10(1 - q)).
pub(crate) fn nines_label(x: &f64) -> String {
    let percent = 100.0 * (1.0 - 10f64.powf(-x));
    if x.fract().abs() < 1e-9 {
        // Whole nines: print exactly as many decimals as they need.
        let decimals = (x.round() as usize).saturating_sub(2);
        format!("{percent:.decimals$}%")
    } else {
        format!("{percent:.2}%")
    }
}

/// How far right the spectrum reaches: the nines that `count` requests can resolve
/// (1000 requests reach 99.9%), at least 90%.
pub(crate) fn spectrum_nines(count: u64) -> f64 {
    (count.max(1) as f64).log10().ceil().max(1.0)
}

/// One row's latency percentile spectrum, from the same percentiles as the tables
/// (Locust's ranks over the row's HdrHistogram).
pub(super) fn spectrum_chart(row: &RequestStats, label: &str) -> Result<String, String> {
    let x_max = spectrum_nines(row.num_requests());
    let xs: Vec<f64> = (0..=SPECTRUM_POINTS)
        .map(|i| x_max * i as f64 / SPECTRUM_POINTS as f64)
        .collect();
    let qs: Vec<f64> = xs.iter().map(|x| 1.0 - 10f64.powf(-x)).collect();
    let points = row
        .percentiles_ms(&qs)
        .map(|ys| xs.iter().copied().zip(ys).collect())
        .unwrap_or_default();
    let caption = format!("{label}: latency by percentile (ms)");
    line_chart(
        &Frame {
            caption: &caption,
            x_desc: "percentile",
            y_desc: "ms",
            width: WIDTH,
            height: SPECTRUM_HEIGHT,
            x_max,
            // One label per whole nine: 0%, 90%, 99%, ...
            x_labels: x_max as usize + 1,
            x_format: &nines_label,
            marks: &[],
        },
        &[Series {
            label: "response time",
            colour: BLUE_LINE,
            points,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_scale_labels_and_reach() {
        let cases = [
            (0.0, "0%"),
            (1.0, "90%"),
            (2.0, "99%"),
            (3.0, "99.9%"),
            (4.0, "99.99%"),
            (0.5, "68.38%"),
        ];
        for (x, label) in cases {
            assert_eq!(nines_label(&x), label, "{x}");
        }
        let reach = [
            (0, 1.0),
            (1, 1.0),
            (10, 1.0),
            (11, 2.0),
            (1000, 3.0),
            (5000, 4.0),
        ];
        for (count, nines) in reach {
            assert_eq!(spectrum_nines(count), nines, "{count}");
        }
    }
}

#[cfg(test)]
mod stage_tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::fixture::guide_snapshot;

    fn mark(stage: usize, seconds: u64, label: &str) -> StageMark {
        StageMark {
            stage,
            at: Duration::from_secs(seconds),
            label: label.to_owned(),
        }
    }

    /// The x pixels of the SVG elements stroked in `colour`, each element's points in
    /// order (`points="x,y x,y"` of polylines, `x1`/`x2` of lines).
    fn stroked_xs(svg: &str, colour: RGBColor) -> Vec<Vec<f64>> {
        let stroke = format!(
            "stroke=\"#{:02X}{:02X}{:02X}\"",
            colour.0, colour.1, colour.2
        );
        svg.split('<')
            .filter(|e| e.contains(&stroke))
            .map(|e| {
                if let Some(at) = e.find("points=\"") {
                    let rest = &e[at + 8..];
                    rest[..rest.find('"').unwrap()]
                        .split_whitespace()
                        .map(|p| p.split(',').next().unwrap().parse().unwrap())
                        .collect()
                } else {
                    ["x1=\"", "x2=\""]
                        .iter()
                        .filter_map(|k| {
                            let rest = &e[e.find(k)? + k.len()..];
                            rest[..rest.find('"')?].parse().ok()
                        })
                        .collect()
                }
            })
            .collect()
    }

    #[test]
    fn a_staged_run_marks_each_boundary_where_its_second_is_drawn() {
        let s = guide_snapshot();
        let stages = [
            mark(0, 0, "50 users at 5/s"),
            mark(1, 20, "500 users at 100/s"),
            mark(2, 35, "50 users at 5/s"),
        ];
        let svg = rps_chart(&s, &stages).unwrap();
        // Every marker segment is vertical; their x positions, one per boundary.
        let mut xs: Vec<f64> = Vec::new();
        for element in stroked_xs(&svg, STAGE_MARK) {
            assert!(element.windows(2).all(|w| w[0] == w[1]), "{element:?}");
            if !xs.contains(&element[0]) {
                xs.push(element[0]);
            }
        }
        xs.sort_by(f64::total_cmp);
        assert_eq!(xs.len(), stages.len(), "{xs:?}");
        // The requests/s line has one vertex per history second (1, 2, ... 60 s from
        // the start): a marker sits on the vertex of its second, to the pixel.
        let line = stroked_xs(&svg, BLUE_LINE)
            .into_iter()
            .max_by_key(Vec::len)
            .unwrap();
        let rows = aggregated_history(&s);
        let vertex = |second: f64| {
            let i = rows
                .iter()
                .position(|r| seconds_since_start(&s, r) == second)
                .unwrap();
            line[i]
        };
        for (x, seconds) in xs.iter().skip(1).zip([20.0, 35.0]) {
            assert!(
                (x - vertex(seconds)).abs() <= 1.0,
                "{x} vs {}",
                vertex(seconds)
            );
        }
        // The first stage starts at the y axis: left of the first second's vertex by
        // one second's width.
        let per_second = vertex(2.0) - vertex(1.0);
        assert!((xs[0] - (vertex(1.0) - per_second)).abs() <= 1.0, "{xs:?}");
        for label in [
            "stage 1: 50 users at 5/s",
            "stage 2: 500 users at 100/s",
            "stage 3: 50 users at 5/s",
        ] {
            assert_eq!(svg.matches(label).count(), 1, "{label}");
        }
        for chart in [response_time_chart(&s, &stages), users_chart(&s, &stages)] {
            let chart = chart.unwrap();
            assert!(chart.contains("stage 2: 500 users at 100/s"));
            assert!(!stroked_xs(&chart, STAGE_MARK).is_empty());
        }
    }

    #[test]
    fn a_run_without_stages_carries_no_marker() {
        let s = guide_snapshot();
        // A plain run has one stage (its users and rate): nothing to mark.
        for stages in [Vec::new(), vec![mark(0, 0, "50 users at 5/s")]] {
            for chart in [
                rps_chart(&s, &stages),
                response_time_chart(&s, &stages),
                users_chart(&s, &stages),
            ] {
                let chart = chart.unwrap();
                assert!(stroked_xs(&chart, STAGE_MARK).is_empty());
                assert!(!chart.contains("stage 1"));
            }
        }
    }
}
