//! The latency-against-parallelism plot, as a small hand-written SVG: one panel for different
//! users and one for the same user; per module the median (solid) and p99 (dashed) login wall
//! time, both axes logarithmic.

use crate::modules::Module;
use crate::scenarios::concurrency::ConcResult;
use std::fmt::Write;

const PANEL_W: f64 = 380.0;
const PANEL_H: f64 = 280.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 50.0;
const GAP: f64 = 90.0;

fn color(m: Module) -> &'static str {
    match m {
        Module::PamMfa => "#1f5fbf",
        Module::Google => "#c0392b",
        Module::Oath => "#2e8b57",
        Module::Permit => "#777777",
    }
}

/// Maps values to one panel's pixels.
struct Axes {
    x0: f64,
    xs: Vec<usize>,
    lo: f64,
    hi: f64,
}

impl Axes {
    fn x(&self, p: usize) -> f64 {
        let max = (*self.xs.last().unwrap_or(&1) as f64).log2().max(1.0);
        self.x0 + (p as f64).log2() / max * PANEL_W
    }
    fn y(&self, ms: f64) -> f64 {
        let f = (ms.max(1e-3).log10() - self.lo) / (self.hi - self.lo);
        TOP + PANEL_H - f * PANEL_H
    }
}

fn frame(s: &mut String, a: &Axes, title: &str) {
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" font-size="15" text-anchor="middle" font-weight="bold">{title}</text>
<rect x="{:.1}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#333"/>
"##,
        a.x0 + PANEL_W / 2.0,
        TOP - 14.0,
        a.x0
    );
    let mut e = a.lo.floor() as i32;
    while f64::from(e) <= a.hi {
        let y = a.y(10f64.powi(e));
        let label =
            if e < 0 { format!("{}", 10f64.powi(e)) } else { format!("{}", 10i64.pow(e as u32)) };
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{label}</text>"##,
            a.x0,
            a.x0 + PANEL_W,
            a.x0 - 6.0,
            y + 4.0
        );
        e += 1;
    }
    for &p in &a.xs {
        let x = a.x(p);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{p}</text>"##,
            TOP + PANEL_H,
            TOP + PANEL_H + 16.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">parallel processes</text>
<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 {:.1} {:.1})">login wall time (ms)</text>
"##,
        a.x0 + PANEL_W / 2.0,
        TOP + PANEL_H + 36.0,
        a.x0 - 48.0,
        TOP + PANEL_H / 2.0,
        a.x0 - 48.0,
        TOP + PANEL_H / 2.0
    );
}

fn series(s: &mut String, a: &Axes, pts: &[(usize, f64)], m: Module, dashed: bool) {
    let path: Vec<String> =
        pts.iter().map(|&(p, v)| format!("{:.1},{:.1}", a.x(p), a.y(v))).collect();
    let dash = if dashed { r#" stroke-dasharray="6 4""# } else { "" };
    let _ = writeln!(
        s,
        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
        path.join(" "),
        color(m)
    );
    for &(p, v) in pts {
        let _ = writeln!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
            a.x(p),
            a.y(v),
            color(m)
        );
    }
}

/// Renders the plot.
pub(crate) fn concurrency_plot(r: &[ConcResult]) -> String {
    let mut xs: Vec<usize> = r.iter().map(|c| c.parallel).collect();
    xs.sort_unstable();
    xs.dedup();
    let vals = r.iter().flat_map(|c| [c.timing.wall.median, c.timing.wall.p99]);
    let vals: Vec<f64> = vals.filter(|v| v.is_finite() && *v > 0.0).collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min).max(1e-3).log10().floor();
    let hi = vals.iter().copied().fold(0.0, f64::max).max(1.0).log10().ceil();
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let width = LEFT + 2.0 * PANEL_W + GAP + 30.0;
    let height = TOP + PANEL_H + 100.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
"#
    );
    for (i, same) in [false, true].into_iter().enumerate() {
        let a = Axes { x0: LEFT + i as f64 * (PANEL_W + GAP), xs: xs.clone(), lo, hi };
        frame(&mut s, &a, if same { "same user" } else { "different users" });
        for m in Module::TOTP {
            let mut pts: Vec<&ConcResult> =
                r.iter().filter(|c| c.module == m && c.same_user == same).collect();
            pts.sort_by_key(|c| c.parallel);
            let med: Vec<(usize, f64)> =
                pts.iter().map(|c| (c.parallel, c.timing.wall.median)).collect();
            let p99: Vec<(usize, f64)> =
                pts.iter().map(|c| (c.parallel, c.timing.wall.p99)).collect();
            series(&mut s, &a, &med, m, false);
            series(&mut s, &a, &p99, m, true);
        }
    }
    let ly = TOP + PANEL_H + 62.0;
    let mut x = LEFT;
    for m in Module::TOTP {
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            x + 24.0,
            color(m),
            x + 30.0,
            ly + 4.0,
            m.name()
        );
        x += 44.0 + 7.0 * m.name().len() as f64;
    }
    let _ = write!(
        s,
        r#"<text x="{x:.1}" y="{:.1}" font-size="12">solid: median, dashed: p99</text>
</svg>
"#,
        ly + 4.0
    );
    s
}
