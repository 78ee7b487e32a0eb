//! The dashboard's charts, drawn with plotters on any `DrawingBackend`: the
//! window draws them with cairo, the tests into SVG. Each takes data already
//! prepared (no queries, no sums here) and a palette for light or dark.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::core::money::AmountStyle;

/// Colours for one style (light or dark).
#[derive(Clone, Debug)]
pub struct Palette {
    pub text: RGBColor,
    pub grid: RGBColor,
    pub track: RGBColor,
    pub series: [RGBColor; 7],
    pub budget: RGBColor,
    pub ok: RGBColor,
    pub warning: RGBColor,
    pub critical: RGBColor,
}

impl Palette {
    /// The GNOME palette's blue, green, yellow, orange, purple, brown and grey.
    pub fn light() -> Palette {
        Palette {
            text: RGBColor(0x24, 0x1f, 0x31),
            grid: RGBColor(0xde, 0xdd, 0xda),
            track: RGBColor(0xde, 0xdd, 0xda),
            series: [
                RGBColor(0x35, 0x84, 0xe4),
                RGBColor(0x2e, 0xc2, 0x7e),
                RGBColor(0xe5, 0xa5, 0x0a),
                RGBColor(0xff, 0x78, 0x00),
                RGBColor(0x91, 0x41, 0xac),
                RGBColor(0x98, 0x6a, 0x44),
                RGBColor(0x9a, 0x99, 0x96),
            ],
            budget: RGBColor(0xc0, 0x1c, 0x28),
            ok: RGBColor(0x26, 0xa2, 0x69),
            warning: RGBColor(0xe5, 0xa5, 0x0a),
            critical: RGBColor(0xc0, 0x1c, 0x28),
        }
    }

    pub fn dark() -> Palette {
        Palette {
            text: RGBColor(0xff, 0xff, 0xff),
            grid: RGBColor(0x50, 0x50, 0x50),
            track: RGBColor(0x45, 0x45, 0x45),
            series: [
                RGBColor(0x62, 0xa0, 0xea),
                RGBColor(0x57, 0xe3, 0x89),
                RGBColor(0xf8, 0xe4, 0x5c),
                RGBColor(0xff, 0xa3, 0x48),
                RGBColor(0xc0, 0x61, 0xcb),
                RGBColor(0xb5, 0x83, 0x5a),
                RGBColor(0xc0, 0xbf, 0xbc),
            ],
            budget: RGBColor(0xff, 0x7b, 0x63),
            ok: RGBColor(0x8f, 0xf0, 0xa4),
            warning: RGBColor(0xf8, 0xe4, 0x5c),
            critical: RGBColor(0xff, 0x7b, 0x63),
        }
    }

    pub fn for_dark(dark: bool) -> Palette {
        if dark {
            Palette::dark()
        } else {
            Palette::light()
        }
    }
}

/// Spend per day, stacked by series, with the days still ahead in the period
/// as forecast bars and an even share of the budget per day as a line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpendChart {
    /// One label per day, shown under some of the bars.
    pub days: Vec<String>,
    /// (label, dollars per day), drawn bottom up in this order.
    pub series: Vec<(String, Vec<f64>)>,
    /// Forecast dollars for days after the last one with data (same length as
    /// `days`, `None` for days that have happened).
    pub forecast: Vec<Option<f64>>,
    pub forecast_label: String,
    /// Dollars per day the main budget allows, if there is one.
    pub budget_per_day: Option<f64>,
    pub budget_label: String,
    /// How the axis writes amounts (the dollars above are converted for it).
    pub amounts: AmountStyle,
}

impl SpendChart {
    /// The highest bar or line, for the axis.
    fn top(&self) -> f64 {
        let stacked = (0..self.days.len()).map(|i| {
            self.series.iter().map(|(_, v)| v[i]).sum::<f64>() + self.forecast[i].unwrap_or(0.0)
        });
        stacked.chain(self.budget_per_day).fold(0.0, f64::max)
    }
}

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

pub fn draw_spend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &SpendChart,
    p: &Palette,
) -> Drawn<DB> {
    // The legend beside the plot when there is room, else under it.
    let legend = legend_entries(data, p);
    let (w, h) = area.dim_in_pixel();
    let (plot, key) = if w >= 520 {
        area.split_horizontally(w.saturating_sub(LEGEND_WIDTH))
    } else {
        let rows = legend.len().div_ceil(2) as u32;
        area.split_vertically(h.saturating_sub(rows * LEGEND_ROW + 8))
    };
    draw_legend(&key, &legend, p, w >= 520)?;
    let n = data.days.len().max(1);
    // Nothing spent: a dollar's scale, not an axis of repeated zeros.
    let top = match data.top() {
        t if t > 0.0 => (t * 1.1).max(0.1),
        _ => 1.0,
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
    // A day label every 70 pixels or so.
    let room = (plot.dim_in_pixel().0 as usize / 70).max(1);
    let every = n.div_ceil(room).max(1);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(p.grid.mix(0.0))
        .bold_line_style(p.grid)
        .axis_style(p.grid)
        .y_labels(5)
        .y_label_formatter(&|v| data.amounts.axis(*v, top))
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if i.is_multiple_of(every) && (*x - i as f64).abs() < 1e-9 {
                data.days.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 12).into_font().color(&p.text))
        .draw()?;
    for (s, (_, values)) in data.series.iter().enumerate() {
        let color = p.series[s % p.series.len()];
        let bars = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(i, v)| {
                let below: f64 = data.series[..s].iter().map(|(_, vs)| vs[i]).sum();
                Rectangle::new(
                    [(i as f64 + 0.15, below), (i as f64 + 0.85, below + v)],
                    color.filled(),
                )
            });
        chart.draw_series(bars)?;
    }
    // A forecast sits on top of what the day has already spent.
    let color = p.series[0].mix(0.35);
    let forecast = data.forecast.iter().enumerate().filter_map(|(i, f)| {
        let below: f64 = data.series.iter().map(|(_, vs)| vs[i]).sum();
        f.filter(|v| *v > 0.0).map(|v| {
            Rectangle::new(
                [(i as f64 + 0.15, below), (i as f64 + 0.85, below + v)],
                color.filled(),
            )
        })
    });
    chart.draw_series(forecast)?;
    if let Some(b) = data.budget_per_day {
        chart.draw_series(LineSeries::new(
            [(0.0, b), (n as f64, b)],
            p.budget.stroke_width(2),
        ))?;
    }
    Ok(())
}

const LEGEND_WIDTH: u32 = 180;
const LEGEND_ROW: u32 = 20;

/// What the legend lists: each series, the forecast and the budget line.
enum Swatch {
    Box(RGBAColor),
    Line(RGBColor),
}

fn legend_entries(data: &SpendChart, p: &Palette) -> Vec<(String, Swatch)> {
    let mut out: Vec<(String, Swatch)> = data
        .series
        .iter()
        .enumerate()
        .map(|(s, (label, _))| {
            (
                label.clone(),
                Swatch::Box(p.series[s % p.series.len()].to_rgba()),
            )
        })
        .collect();
    if data.forecast.iter().any(|f| f.is_some_and(|v| v > 0.0)) {
        out.push((
            data.forecast_label.clone(),
            Swatch::Box(p.series[0].mix(0.35)),
        ));
    }
    if data.budget_per_day.is_some() {
        out.push((data.budget_label.clone(), Swatch::Line(p.budget)));
    }
    out
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Swatch)],
    p: &Palette,
    column: bool,
) -> Drawn<DB> {
    let font = ("sans-serif", 12).into_font().color(&p.text);
    let (w, _) = area.dim_in_pixel();
    for (i, (label, swatch)) in entries.iter().enumerate() {
        let (x, y) = if column {
            (8, 16 + i as i32 * LEGEND_ROW as i32)
        } else {
            (
                (i % 2) as i32 * w as i32 / 2 + 8,
                4 + (i / 2) as i32 * LEGEND_ROW as i32,
            )
        };
        match swatch {
            Swatch::Box(c) => area.draw(&Rectangle::new([(x, y), (x + 12, y + 12)], c.filled()))?,
            Swatch::Line(c) => area.draw(&PathElement::new(
                [(x, y + 6), (x + 12, y + 6)],
                c.stroke_width(2),
            ))?,
        }
        let short: String = if label.chars().count() > 22 {
            label.chars().take(21).chain(['…']).collect()
        } else {
            label.clone()
        };
        area.draw(&Text::new(short, (x + 18, y - 1), font.clone()))?;
    }
    Ok(())
}

/// How much of a budget is used, with its warning marks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meter {
    /// Used over the limit (1.0 is the limit; may be more).
    pub used: f64,
    /// Marks as shares of the limit: the soft limit, critical and the limit.
    pub marks: Vec<f64>,
    /// 0 ok, 1 warning, 2 critical or exceeded.
    pub level: u8,
}

pub fn draw_meter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: &Meter,
    p: &Palette,
) -> Drawn<DB> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let bar_top = h / 2 - 8;
    let bar_bottom = h / 2 + 8;
    area.draw(&Rectangle::new(
        [(0, bar_top), (w, bar_bottom)],
        p.track.filled(),
    ))?;
    let color = match m.level {
        0 => p.ok,
        1 => p.warning,
        _ => p.critical,
    };
    let filled = (m.used.clamp(0.0, 1.0) * w as f64).round() as i32;
    if filled > 0 {
        area.draw(&Rectangle::new(
            [(0, bar_top), (filled, bar_bottom)],
            color.filled(),
        ))?;
    }
    for mark in &m.marks {
        let x = ((mark.clamp(0.0, 1.0) * w as f64).round() as i32).min(w - 2);
        area.draw(&Rectangle::new(
            [(x, bar_top - 5), (x + 2, bar_bottom + 5)],
            p.text.filled(),
        ))?;
    }
    Ok(())
}

/// Horizontal bars: the biggest values of a breakdown, with their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bars {
    /// (label, dollars, the amount as shown)
    pub bars: Vec<(String, f64, String)>,
}

pub fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &Bars,
    p: &Palette,
) -> Drawn<DB> {
    let n = data.bars.len().max(1);
    let top = data.bars.iter().map(|b| b.1).fold(0.0, f64::max).max(0.01);
    let (w, h) = area.dim_in_pixel();
    let row = (h as f64 / n as f64).min(36.0);
    let label_w = (w as f64 * 0.4) as i32;
    let bar_w = w as f64 - label_w as f64 - 90.0;
    let font = ("sans-serif", 12).into_font().color(&p.text);
    for (i, (label, value, shown)) in data.bars.iter().enumerate() {
        let y = (i as f64 * row) as i32;
        let mid = y + (row / 2.0) as i32;
        let short: String = if label.chars().count() > 28 {
            label.chars().take(27).chain(['…']).collect()
        } else {
            label.clone()
        };
        area.draw(&Text::new(short, (0, mid - 7), font.clone()))?;
        let len = ((value / top) * bar_w.max(10.0)).round() as i32;
        let color = p.series[i % p.series.len()];
        area.draw(&Rectangle::new(
            [(label_w, mid - 8), (label_w + len.max(1), mid + 8)],
            color.filled(),
        ))?;
        area.draw(&Text::new(
            shown.clone(),
            (label_w + len + 6, mid - 7),
            font.clone(),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(width: u32, height: u32, draw: impl Fn(&DrawingArea<SVGBackend, Shift>)) -> String {
        let mut out = String::new();
        {
            let area = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
            draw(&area);
            area.present().unwrap();
        }
        out
    }

    fn spend(days: usize, models: usize) -> SpendChart {
        SpendChart {
            days: (0..days).map(|d| format!("Jan {}", d + 1)).collect(),
            series: (0..models)
                .map(|m| {
                    (
                        format!("model-{m}"),
                        (0..days).map(|d| ((d * 7 + m * 3) % 11) as f64).collect(),
                    )
                })
                .collect(),
            forecast: (0..days).map(|d| (d + 3 >= days).then_some(4.0)).collect(),
            forecast_label: "Forecast".into(),
            budget_per_day: Some(12.5),
            budget_label: "Budget per day".into(),
            amounts: AmountStyle::USD,
        }
    }

    #[test]
    fn spend_charts_draw_for_empty_one_day_ninety_days_and_many_models() {
        for (days, models) in [(0, 0), (1, 1), (90, 3), (30, 12)] {
            for dark in [false, true] {
                let data = spend(days, models);
                let out = svg(800, 300, |a| {
                    draw_spend(a, &data, &Palette::for_dark(dark)).unwrap()
                });
                assert!(out.starts_with("<svg"), "{days} days");
                for (label, _) in &data.series {
                    assert!(
                        out.contains(&format!(">{label}<")) || out.contains(label.as_str()),
                        "{label} in the legend"
                    );
                }
                if days > 0 {
                    assert!(out.contains("Budget per day") && out.contains("Forecast"));
                }
            }
        }
        let empty = SpendChart::default();
        let out = svg(300, 200, |a| {
            draw_spend(a, &empty, &Palette::light()).unwrap()
        });
        assert!(
            out.contains("$1.00") && !out.contains("$0.01"),
            "a dollar's scale: {out}"
        );
        // The axis speaks the currency the window shows.
        let euros = SpendChart {
            amounts: AmountStyle {
                symbol: "€",
                symbol_after: true,
                thousands: '.',
                decimal: ',',
                per_usd_micros: 2_000_000,
            },
            ..spend(30, 2)
        };
        let out = svg(800, 300, |a| {
            draw_spend(a, &euros, &Palette::light()).unwrap()
        });
        assert!(out.contains("20\u{a0}€") && !out.contains('$'), "{out}");
        // Day labels are spaced out, not one per bar.
        let data = spend(90, 3);
        let out = svg(800, 300, |a| {
            draw_spend(a, &data, &Palette::light()).unwrap()
        });
        let labels = data
            .days
            .iter()
            .filter(|d| out.contains(&format!("\n{d}\n")))
            .count();
        assert!(
            (3..=9).contains(&labels),
            "{labels} day labels on 620 pixels"
        );
    }

    #[test]
    fn the_meter_fills_to_its_share_and_marks_its_thresholds() {
        let m = Meter {
            used: 0.5,
            marks: vec![0.8, 0.95, 1.0],
            level: 0,
        };
        let out = svg(200, 40, |a| draw_meter(a, &m, &Palette::light()).unwrap());
        // The track, the fill to 100 of 200 pixels, and three marks.
        assert_eq!(out.matches("<rect").count(), 5, "{out}");
        assert!(out.contains(r#"width="100""#), "{out}");
        let over = Meter { used: 1.7, ..m };
        let out = svg(200, 40, |a| {
            draw_meter(a, &over, &Palette::light()).unwrap()
        });
        assert!(
            out.contains(r#"width="200""#),
            "a full bar, no overflow: {out}"
        );
    }

    #[test]
    fn breakdown_bars_show_their_labels_and_amounts() {
        let data = Bars {
            bars: vec![
                ("claude-sonnet-4-5".into(), 12.0, "$12.00".into()),
                (
                    "a-project-with-a-very-long-name-indeed-longer-than-most".into(),
                    3.0,
                    "$3.00".into(),
                ),
            ],
        };
        let out = svg(500, 100, |a| draw_bars(a, &data, &Palette::dark()).unwrap());
        assert!(
            out.contains("claude-sonnet-4-5") && out.contains("$12.00") && out.contains("$3.00")
        );
        assert!(
            out.contains("a-project-with-a-very-long-…"),
            "long names are cut"
        );
        let none = svg(500, 100, |a| {
            draw_bars(a, &Bars::default(), &Palette::dark()).unwrap()
        });
        assert!(none.contains("<svg"));
    }
}
