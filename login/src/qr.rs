//! QR codes of otpauth URIs, drawn as text with Unicode half blocks (two module rows per line).
//!
//! Used by `mfa-enroll` in the terminal and by the enroll-on-login flow inside the PAM
//! conversation (where an SSH client shows it as text). Every form has a quiet zone of
//! [`QUIET_ZONE`] light modules around the code, as the QR standard asks; scanners fail
//! without one, especially on a dark terminal background. A character cell is about twice as
//! high as wide, so `▀` (upper half), `▄` (lower half), `█` and space draw square modules.

use crate::error::{Error, Result};
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

/// Light modules around the code on every side (the standard's minimum for QR codes).
pub const QUIET_ZONE: usize = 4;

/// An encoded QR code. It holds the URI, hence the secret; it lives only as long as the
/// enrollment is shown. (The `qrcode` crate's buffers cannot be zeroized.)
pub struct Qr {
    code: QrCode,
}

impl Qr {
    /// Encodes `text` with error correction level M (15 % of the code may be damaged).
    pub fn encode(text: &str) -> Result<Qr> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|e| Error::Invalid(format!("QR code: {e}")))?;
        Ok(Qr { code })
    }

    /// The underlying code (for image renderers).
    pub fn code(&self) -> &QrCode {
        &self.code
    }

    /// Modules per side including the quiet zone.
    pub fn size(&self) -> usize {
        self.code.width() + 2 * QUIET_ZONE
    }

    /// Whether the module at (`x`, `y`) is dark; coordinates include the quiet zone, and
    /// anything outside the code (quiet zone or beyond) is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        let w = self.code.width();
        match (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) {
            (Some(cx), Some(cy)) if cx < w && cy < w => self.code[(cx, cy)] == Color::Dark,
            _ => false,
        }
    }
}

/// Sets black foreground on bright white background (SGR 30;107).
pub const ANSI_START: &str = "\x1b[30;107m";
/// Resets all attributes.
pub const ANSI_RESET: &str = "\x1b[0m";

/// How the code is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Explicit colours, black on bright white, so it scans on dark and light terminal themes.
    /// Blocks are dark modules.
    Ansi,
    /// No colour codes, for a terminal with light text on a dark background: blocks are the
    /// light modules, spaces (the dark background) the dark ones.
    Plain,
}

/// Draws the code, quiet zone included, one line per two module rows. Each line of the ANSI
/// form starts with the colours and ends with a reset, so nothing bleeds into the next line.
pub fn render(qr: &Qr, style: Style) -> Zeroizing<String> {
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
