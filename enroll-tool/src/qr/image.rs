//! The QR code as an image file (SVG or PNG), for showing it on another screen or printing it.

use super::Qr;
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

/// Pixels per module side in image files.
pub(crate) const PIXELS_PER_MODULE: usize = 8;

/// The code as an SVG document: a white square with the dark modules as one black path, sized
/// [`PIXELS_PER_MODULE`] pixels per module, quiet zone included.
pub(crate) fn svg(qr: &Qr) -> Zeroizing<String> {
    let px = PIXELS_PER_MODULE as u32;
    Zeroizing::new(
        qr.code()
            .render::<qrcode::render::svg::Color<'_>>()
            .quiet_zone(true)
            .module_dimensions(px, px)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

/// The code as an 8-bit greyscale PNG, [`PIXELS_PER_MODULE`] pixels per module, quiet zone
/// included.
pub(crate) fn png(qr: &Qr) -> Result<Zeroizing<Vec<u8>>> {
    let side = qr.size() * PIXELS_PER_MODULE;
    let mut pixels = Zeroizing::new(vec![0xffu8; side * side]);
    for (i, p) in pixels.iter_mut().enumerate() {
        let (x, y) = (i % side / PIXELS_PER_MODULE, i / side / PIXELS_PER_MODULE);
        if qr.is_dark(x, y) {
            *p = 0;
        }
    }
    let side = u32::try_from(side).map_err(|_| Error::Qr("image too large".into()))?;
    let mut file = Zeroizing::new(Vec::new());
    let png_err = |e: png::EncodingError| Error::Qr(format!("PNG encoding: {e}"));
    {
        let mut encoder = png::Encoder::new(&mut *file, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_err)?;
        writer.write_image_data(&pixels).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
    }
    Ok(file)
}

/// Writes `data` to a new file with mode 0600. An existing file (or symlink) at `path` is never
/// overwritten or followed (`O_CREAT|O_EXCL`): the image holds the secret. A file left
/// half-written by an error is removed.
pub(crate) fn write_new_private_file(path: &Path, data: &[u8]) -> Result<()> {
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "refusing to overwrite existing file"
            } else {
                "create"
            };
            Error::io(format!("{what} {}", path.display()), e)
        })?;
    let written = fill(&mut file, data);
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(Error::io(format!("write {}", path.display()), e));
    }
    Ok(())
}

fn fill(file: &mut File, data: &[u8]) -> std::io::Result<()> {
    // The creation mode passed through the umask; make it exactly 0600.
    file.set_permissions(Permissions::from_mode(0o600))?;
    file.write_all(data)?;
    file.sync_all()
}
