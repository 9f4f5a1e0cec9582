//! Pictures of a bench run, as SVG: a reliability diagram (stated
//! confidence in bins against the fraction of those answers that were
//! right, with counts) and the runs each strategy spent against the
//! reproduction rate.
//!
//! SVG text is written as text elements with a generic font family, so no
//! font files are needed. This module only draws what `report` computed; it
//! must never change a number.

use super::report::{is_correct, Row, Trial};
use super::scenario::Scenario;
use super::Strategy;
use anyhow::Context;
use plotters::prelude::*;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Upper edges of the confidence bins (the last bin ends at 1 inclusive).
pub const BINS: [f64; 7] = [0.5, 0.66, 0.8, 0.9, 0.95, 0.99, 1.0];

/// One bin of the reliability diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub strategy: Strategy,
    pub from: f64,
    pub to: f64,
    /// Answers (a named culprit, or "older") whose stated confidence falls
    /// in the bin.
    pub answers: usize,
    pub correct: usize,
    pub mean_confidence: f64,
}

/// Reliability bins of every strategy that states a confidence.
pub fn reliability(trials: &[Trial], strategies: &[Strategy]) -> Vec<Bin> {
    let mut out = Vec::new();
    for &st in strategies {
        let mut bins: Vec<(usize, usize, f64)> = vec![(0, 0, 0.0); BINS.len()];
        for t in trials {
            let Some((_, tally)) = t.results.iter().find(|r| r.0 == st) else {
                continue;
            };
            let (true, Some(c)) = (tally.answered(), tally.confidence) else {
                continue;
            };
            let i = BINS.iter().position(|&e| c < e).unwrap_or(BINS.len() - 1);
            bins[i].0 += 1;
            bins[i].1 += is_correct(t, tally) as usize;
            bins[i].2 += c;
        }
        if bins.iter().all(|b| b.0 == 0) {
            continue;
        }
        for (i, (n, ok, sum)) in bins.into_iter().enumerate() {
            out.push(Bin {
                strategy: st,
                from: if i == 0 { 0.0 } else { BINS[i - 1] },
                to: BINS[i],
                answers: n,
                correct: ok,
                mean_confidence: if n > 0 { sum / n as f64 } else { 0.0 },
            });
        }
    }
    out
}

/// The reliability bins as a text table.
pub fn reliability_text(bins: &[Bin]) -> String {
    let mut s = String::from(
        "\nreliability (answers naming a culprit or \"older\", by stated confidence):\n",
    );
    let _ = writeln!(
        s,
        "  {:<8} {:>11} {:>8} {:>8} {:>9} {:>9}",
        "strategy", "confidence", "answers", "correct", "accuracy", "mean conf"
    );
    for b in bins.iter().filter(|b| b.answers > 0) {
        let _ = writeln!(
            s,
            "  {:<8} {:>4.2}-{:<4.2}  {:>8} {:>8} {:>9.3} {:>9.3}",
            b.strategy.name(),
            b.from,
            b.to,
            b.answers,
            b.correct,
            b.correct as f64 / b.answers as f64,
            b.mean_confidence
        );
    }
    s
}

fn color(st: Strategy) -> RGBColor {
    match st {
        Strategy::Culprit => RGBColor(0x1f, 0x77, 0xb4),
        Strategy::Syzbot => RGBColor(0xd6, 0x27, 0x28),
        Strategy::Git => RGBColor(0x2c, 0xa0, 0x2c),
        Strategy::TrueQ => RGBColor(0x94, 0x67, 0xbd),
    }
}

/// Writes `reliability.svg` and `runs-vs-q.svg` into `dir` (created if
/// needed) and returns their paths.
pub fn write(
    dir: &Path,
    scenarios: &[Scenario],
    trials: &[Trial],
    rows: &[Row],
    strategies: &[Strategy],
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let rel = dir.join("reliability.svg");
    draw_reliability(&rel, &reliability(trials, strategies))
        .with_context(|| format!("drawing {}", rel.display()))?;
    let runs = dir.join("runs-vs-q.svg");
    draw_runs(&runs, scenarios, rows, strategies)
        .with_context(|| format!("drawing {}", runs.display()))?;
    Ok(vec![rel, runs])
}

fn draw_reliability(path: &Path, bins: &[Bin]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (720, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Reliability: stated confidence vs observed accuracy",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0f64..1.0f64, 0.0f64..1.05f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("stated confidence (bin mean)")
        .y_desc("fraction of answers correct")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            BLACK.mix(0.3).stroke_width(1),
        ))
        .map_err(plot_err)?
        .label("perfect calibration")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.3)));
    let strategies: Vec<Strategy> = {
        let mut v: Vec<Strategy> = bins.iter().map(|b| b.strategy).collect();
        v.dedup();
        v
    };
    for st in strategies {
        let c = color(st);
        let pts: Vec<(f64, f64, usize)> = bins
            .iter()
            .filter(|b| b.strategy == st && b.answers > 0)
            .map(|b| {
                (
                    b.mean_confidence,
                    b.correct as f64 / b.answers as f64,
                    b.answers,
                )
            })
            .collect();
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                c.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(st.name())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|&(x, y, n)| {
                EmptyElement::at((x, y))
                    + Circle::new((0, 0), 4, c.filled())
                    + Text::new(format!("n={n}"), (-44, 8), ("sans-serif", 12).into_font())
            }))
            .map_err(plot_err)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// The lowest reproduction rate of a scenario (the old side under drift).
fn lowest_q(sc: &Scenario) -> f64 {
    sc.q_old.unwrap_or(sc.q).min(sc.q)
}

fn draw_runs(
    path: &Path,
    scenarios: &[Scenario],
    rows: &[Row],
    strategies: &[Strategy],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (720, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let max_runs = rows.iter().map(|r| r.runs.mean).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Mean runs per campaign vs reproduction rate",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0f64..1.05f64, 0.0f64..max_runs * 1.1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("q (lowest rate of the scenario: the old side under drift)")
        .y_desc("mean runs")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(plot_err)?;
    for &st in strategies {
        let c = color(st);
        let mut pts: Vec<(f64, f64)> = scenarios
            .iter()
            .filter_map(|sc| {
                rows.iter()
                    .find(|r| r.scenario == sc.name && r.strategy == st)
                    .map(|r| (lowest_q(sc), r.runs.mean))
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(plot_err)?
            .label(st.name())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
            .map_err(plot_err)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// The series legend, the same on every chart.
fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(at)
        .border_style(BLACK.mix(0.4))
        .background_style(WHITE.mix(0.9))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(plot_err)
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

#[cfg(test)]
mod tests {
    use super::super::Tally;
    use super::*;

    fn trial(truth: u32, answer: Option<u32>, conf: f64) -> Trial {
        let mut t = Tally::new("culprit");
        t.answer = answer;
        t.confidence = Some(conf);
        t.runs = 10;
        Trial {
            scenario: "s".into(),
            seed: 0,
            truth,
            truth_sha: String::new(),
            candidates: 100,
            q: 1.0,
            results: vec![(Strategy::Culprit, t)],
        }
    }

    #[test]
    fn bins_count_answers_and_hits_by_stated_confidence() {
        let trials = vec![
            trial(1, Some(1), 0.995),
            trial(1, Some(2), 0.999),
            trial(1, Some(1), 0.7),
            trial(1, None, 0.6), // no answer: not in the diagram
        ];
        let bins = reliability(&trials, &[Strategy::Culprit, Strategy::Syzbot]);
        assert_eq!(bins.len(), BINS.len()); // syzbot stated nothing
        let top = bins.last().unwrap();
        assert_eq!((top.answers, top.correct), (2, 1));
        assert!((top.mean_confidence - 0.997).abs() < 1e-12);
        let mid = bins.iter().find(|b| b.from == 0.66).unwrap();
        assert_eq!((mid.answers, mid.correct), (1, 1));
        assert_eq!(bins.iter().map(|b| b.answers).sum::<usize>(), 3);
        let text = reliability_text(&bins);
        assert!(text.contains("0.99-1.00"), "{text}");
    }

    #[test]
    fn a_confident_older_answer_is_a_confident_wrong_answer() {
        // The bench's bug is always inside the range, so "older than every
        // good commit" said at 0.999 is as wrong as a wrong commit.
        let mut older = trial(1, None, 0.999);
        older.results[0].1.outcome = "older";
        let mut inconclusive = trial(1, None, 0.999);
        inconclusive.results[0].1.outcome = "inconclusive";
        let trials = vec![trial(1, Some(1), 0.995), older, inconclusive];
        let bins = reliability(&trials, &[Strategy::Culprit]);
        let top = bins.last().unwrap();
        assert_eq!((top.answers, top.correct), (2, 1));
        let sc = vec![Scenario::new("s", "linear:10")];
        let rows = super::super::report::rows(&sc, &trials, &[Strategy::Culprit]);
        assert_eq!(rows[0].confident, 2);
        assert_eq!(rows[0].calibration, Some(0.5));
        assert!((rows[0].accuracy - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn writes_two_svgs_with_text_labels() {
        let dir = tempfile::tempdir().unwrap();
        let sc = vec![Scenario::new("s", "linear:10")];
        let trials = vec![trial(1, Some(1), 0.995), trial(1, Some(2), 0.8)];
        let rows = super::super::report::rows(&sc, &trials, &[Strategy::Culprit]);
        let files = write(dir.path(), &sc, &trials, &rows, &[Strategy::Culprit]).unwrap();
        for f in files {
            let svg = std::fs::read_to_string(&f).unwrap();
            assert!(svg.starts_with("<svg"), "{}", f.display());
            assert!(svg.contains("<text"), "{}", f.display());
            assert!(svg.contains("culprit"));
        }
    }
}
