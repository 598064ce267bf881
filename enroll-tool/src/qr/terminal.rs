//! The QR code in a terminal, two module rows per text line with Unicode half blocks.
//!
//! A character cell is about twice as high as wide, so `▀` (upper half), `▄` (lower half), `█`
//! and space draw square modules.

use super::Qr;
use zeroize::Zeroizing;

/// Sets black foreground on bright white background (SGR 30;107).
pub(crate) const ANSI_START: &str = "\x1b[30;107m";
/// Resets all attributes.
pub(crate) const ANSI_RESET: &str = "\x1b[0m";

/// How the code is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// Explicit colours, black on bright white, so it scans on dark and light terminal themes.
    /// Blocks are dark modules.
    Ansi,
    /// No colour codes, for a terminal with light text on a dark background: blocks are the
    /// light modules, spaces (the dark background) the dark ones.
    Plain,
}

/// Draws the code, quiet zone included, one line per two module rows. Each line of the ANSI
/// form starts with the colours and ends with a reset, so nothing bleeds into the next line.
pub(crate) fn render(qr: &Qr, style: Style) -> Zeroizing<String> {
    let size = qr.size();
    // Up to 3 UTF-8 bytes per cell, plus colour codes and the newline per line.
    let mut out = Zeroizing::new(String::with_capacity((size * 3 + 16) * size.div_ceil(2)));
    for y in (0..size).step_by(2) {
        if style == Style::Ansi {
            out.push_str(ANSI_START);
        }
        for x in 0..size {
            // Rows past the bottom (odd size) count as light quiet zone.
            let (top, bottom) = (qr.is_dark(x, y), qr.is_dark(x, y + 1));
            // `inked`: the cell halves drawn with the foreground (a block) in this style.
            let (top_inked, bottom_inked) = match style {
                Style::Ansi => (top, bottom),
                Style::Plain => (!top, !bottom),
            };
            out.push(match (top_inked, bottom_inked) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        if style == Style::Ansi {
            out.push_str(ANSI_RESET);
        }
        out.push('\n');
    }
    out
}
