//! Every QR form is decoded back with an independent reader (rqrr) and must give the URI.

use super::*;
use mfa_login::qr::{ANSI_RESET, ANSI_START, QUIET_ZONE};
use std::os::unix::fs::PermissionsExt;

const URI: &str = "otpauth://totp/pam_mfa:alice@host.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
                   &issuer=pam_mfa&algorithm=SHA1&digits=6&period=30";

/// Decodes a module grid (dark = true) with rqrr, drawn at 4 pixels per module.
fn decode_grid(grid: &[Vec<bool>]) -> String {
    const PX: usize = 4;
    let (w, h) = (grid[0].len(), grid.len());
    decode_pixels(w * PX, h * PX, |x, y| if grid[y / PX][x / PX] { 0 } else { 255 })
}

/// Decodes a greyscale image (0 black, 255 white) with rqrr; exactly one code must be found.
fn decode_pixels(w: usize, h: usize, pixel: impl FnMut(usize, usize) -> u8) -> String {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code found");
    grids[0].decode().expect("decodes").1
}

/// Reads terminal half-block text back into module rows. `blocks_are_dark` says what the
/// foreground (block) halves mean.
fn parse_half_blocks(text: &str, blocks_are_dark: bool) -> Vec<Vec<bool>> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for c in line.chars() {
            let (t, b) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected character {other:?}"),
            };
            top.push(t == blocks_are_dark);
            bottom.push(b == blocks_are_dark);
        }
        rows.push(top);
        rows.push(bottom);
    }
    rows
}

#[test]
fn ansi_terminal_form_decodes_and_has_colours_and_quiet_zone() {
    let qr = Qr::encode(URI).expect("encodes");
    let text = terminal(&qr, Style::Ansi);
    let mut stripped = String::new();
    for line in text.lines() {
        let inner = line
            .strip_prefix(ANSI_START)
            .and_then(|l| l.strip_suffix(ANSI_RESET))
            .expect("every line is coloured black on bright white and reset");
        assert!(!inner.contains('\x1b'));
        stripped.push_str(inner);
        stripped.push('\n');
    }
    let grid = parse_half_blocks(&stripped, true);
    assert_eq!(grid[0].len(), qr.size());
    assert_eq!(grid.len(), qr.size().div_ceil(2) * 2);
    // Quiet zone: the outer QUIET_ZONE rows and columns are light.
    for row in &grid[..QUIET_ZONE] {
        assert!(row.iter().all(|d| !d));
    }
    for row in &grid {
        assert!(row[..QUIET_ZONE].iter().all(|d| !d));
        assert!(row[row.len() - QUIET_ZONE..].iter().all(|d| !d));
    }
    assert_eq!(decode_grid(&grid), URI);
}

#[test]
fn plain_terminal_form_decodes_without_escape_codes() {
    let qr = Qr::encode(URI).expect("encodes");
    let text = terminal(&qr, Style::Plain);
    assert!(!text.contains('\x1b'));
    assert!(text.lines().all(|l| l.chars().count() == qr.size()));
    // Light modules are the blocks in this form.
    let grid = parse_half_blocks(&text, false);
    assert_eq!(decode_grid(&grid), URI);
    // Read with the opposite meaning, it is not the code: the style really differs.
    let inverted = parse_half_blocks(&text, true);
    assert_ne!(inverted, grid);
}

#[test]
fn png_decodes_at_eight_pixels_per_module() {
    let qr = Qr::encode(URI).expect("encodes");
    let bytes = png(&qr).expect("renders");
    let decoder = png::Decoder::new(&bytes[..]);
    let mut reader = decoder.read_info().expect("valid PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("one frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let side = qr.size() * image::PIXELS_PER_MODULE;
    assert_eq!((info.width as usize, info.height as usize), (side, side));
    assert_eq!(decode_pixels(side, side, |x, y| buf[y * info.line_size + x]), URI);
}

#[test]
fn svg_has_the_right_size_and_its_path_decodes() {
    let qr = Qr::encode(URI).expect("encodes");
    let text = svg(&qr);
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let px = qr.size() * image::PIXELS_PER_MODULE;
    assert_eq!(root.attribute("width"), Some(px.to_string().as_str()));
    assert_eq!(root.attribute("height"), Some(px.to_string().as_str()));
    let rect = root.children().find(|n| n.has_tag_name("rect")).expect("background rect");
    assert_eq!(rect.attribute("fill"), Some("#ffffff"));
    let path = root.children().find(|n| n.has_tag_name("path")).expect("path of dark modules");
    assert_eq!(path.attribute("fill"), Some("#000000"));
    // Rasterize the path's rectangles (M x y h w v h H x V y) into modules and decode them.
    let mut grid = vec![vec![false; qr.size()]; qr.size()];
    let d = path.attribute("d").expect("d");
    let mut cmds = d.split(|c: char| c.is_ascii_alphabetic()).skip(1);
    let letters: Vec<char> = d.chars().filter(char::is_ascii_alphabetic).collect();
    let num = |s: &str| s.trim().parse::<usize>().expect("number");
    let mut at = (0, 0);
    let mut width = 0;
    for letter in letters {
        let args = cmds.next().expect("arguments");
        match letter {
            'M' => {
                let (x, y) = args.split_once(' ').expect("x y");
                at = (num(x), num(y));
            }
            'h' => width = num(args),
            'v' => {
                let height = num(args);
                let m = image::PIXELS_PER_MODULE;
                for y in (at.1..at.1 + height).step_by(m) {
                    for x in (at.0..at.0 + width).step_by(m) {
                        grid[y / m][x / m] = true;
                    }
                }
            }
            'H' | 'V' => {}
            other => panic!("unexpected path command {other}"),
        }
    }
    assert_eq!(decode_grid(&grid), URI);
}

#[test]
fn image_file_is_private_and_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("qr.png");
    write_new_private_file(&path, b"one").expect("created");
    let meta = std::fs::metadata(&path).expect("exists");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    let err = write_new_private_file(&path, b"two").expect_err("exists");
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(&path).expect("reads"), b"one");
    // A symlink is not followed, not even a dangling one.
    let link = dir.path().join("link.png");
    std::os::unix::fs::symlink(dir.path().join("target.png"), &link).expect("symlink");
    assert!(write_new_private_file(&link, b"x").is_err());
    assert!(!dir.path().join("target.png").exists());
}
