//! QR codes of the otpauth URI: drawn in the terminal or written as an SVG or PNG image.
//!
//! Every form has a quiet zone of [`QUIET_ZONE`] light modules around the code, as the QR
//! standard asks; scanners fail without one, especially on a dark terminal background.

mod image;
mod terminal;
#[cfg(test)]
mod tests;

pub(crate) use image::{png, svg, write_new_private_file};
pub(crate) use terminal::{Style, render as terminal};

use crate::error::{Error, Result};
use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code on every side (the standard's minimum for QR codes).
pub(crate) const QUIET_ZONE: usize = 4;

/// An encoded QR code. It holds the URI, hence the secret; it lives only as long as the
/// enrollment is shown. (The `qrcode` crate's buffers cannot be zeroized.)
pub(crate) struct Qr {
    code: QrCode,
}

impl Qr {
    /// Encodes `text` with error correction level M (15 % of the code may be damaged).
    pub(crate) fn encode(text: &str) -> Result<Qr> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|e| Error::Qr(e.to_string()))?;
        Ok(Qr { code })
    }

    /// Modules per side including the quiet zone.
    pub(crate) fn size(&self) -> usize {
        self.code.width() + 2 * QUIET_ZONE
    }

    /// Whether the module at (`x`, `y`) is dark; coordinates include the quiet zone, and
    /// anything outside the code (quiet zone or beyond) is light.
    pub(crate) fn is_dark(&self, x: usize, y: usize) -> bool {
        let w = self.code.width();
        match (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) {
            (Some(cx), Some(cy)) if cx < w && cy < w => self.code[(cx, cy)] == Color::Dark,
            _ => false,
        }
    }
}
