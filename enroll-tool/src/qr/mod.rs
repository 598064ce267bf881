//! QR codes of the otpauth URI: drawn in the terminal or written as an SVG or PNG image.
//!
//! Every form has a quiet zone of [`QUIET_ZONE`] light modules around the code, as the QR
//! standard asks; scanners fail without one, especially on a dark terminal background.

mod image;
#[cfg(test)]
mod tests;

pub(crate) use image::{png, svg, write_new_private_file};
pub(crate) use mfa_login::qr::{Qr, Style, render as terminal};
