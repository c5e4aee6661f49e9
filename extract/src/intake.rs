//! Intake: what an uploaded file really is, decoded into pixels we can trust.
//!
//! The format is sniffed from the bytes (never the name), images are decoded with EXIF
//! orientation applied, dimensions are checked *before* pixels are allocated (a 50 KB
//! PNG can claim 60 000 × 60 000 pixels), and PDFs are kept as PDFs for the text layer
//! or rasterized on demand with poppler's `pdftoppm`.

use crate::Failure;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader};
use std::io::Cursor;
use std::path::Path;
use std::process::Command;

/// Largest image we decode: 40 megapixels (a 24 MP phone photo fits; bombs do not).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Smallest useful document image: below this nothing on an ID is legible.
pub const MIN_SIDE: u32 = 200;
/// Memory ceiling handed to the decoders.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Heic,
    Pdf,
}

impl Format {
    /// The media type files of this format are stored and served with.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Heic => "image/heic",
            Format::Pdf => "application/pdf",
        }
    }
}

/// Sniffs the container format from magic bytes: the one check both the upload (which
/// refuses anything else) and the pipeline use. HEIF containers also carry AVIF; only
/// the HEVC-coded brands are HEIC.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && matches!(&bytes[8..12], b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1") {
        Some(Format::Heic)
    } else if bytes.starts_with(b"%PDF-") {
        Some(Format::Pdf)
    } else {
        None
    }
}

/// An uploaded file after intake.
pub enum Loaded {
    /// Decoded, orientation applied, within bounds.
    Image(DynamicImage),
    /// A PDF, kept as bytes: the text layer is read directly, scans are rasterized.
    Pdf(Vec<u8>),
}

/// Decodes an uploaded file. Errors are the reasons stored on the document.
pub fn load(bytes: &[u8]) -> Result<Loaded, Failure> {
    match sniff(bytes).ok_or(Failure::UnsupportedFormat)? {
        Format::Pdf => Ok(Loaded::Pdf(bytes.to_vec())),
        Format::Heic => decode_heic(bytes).map(Loaded::Image),
        Format::Jpeg | Format::Png | Format::Webp => decode_image(bytes).map(Loaded::Image),
    }
}

/// Decodes a raster image: dimensions checked first, then pixels, then EXIF orientation.
pub fn decode_image(bytes: &[u8]) -> Result<DynamicImage, Failure> {
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| Failure::UnsupportedFormat)?;
    if reader.format().is_none() {
        return Err(Failure::UnsupportedFormat);
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    let mut decoder = reader.into_decoder().map_err(|_| Failure::UnsupportedFormat)?;
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h)?;
    decoder.set_limits(limits).map_err(|_| Failure::ImageTooLarge)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => Failure::ImageTooLarge,
        _ => Failure::UnsupportedFormat,
    })?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn check_dimensions(w: u32, h: u32) -> Result<(), Failure> {
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Failure::ImageTooLarge);
    }
    if w.min(h) < MIN_SIDE {
        return Err(Failure::ImageTooSmall);
    }
    Ok(())
}

/// HEIC through libheif's `heif-convert` (Debian `libheif-examples`): Debian's libheif
/// is too old for the Rust bindings and the embedded build needs a C++ toolchain dance,
/// while the tool is packaged and does exactly this. Without the tool, HEIC is refused
/// clearly as `unsupported_format`.
fn decode_heic(bytes: &[u8]) -> Result<DynamicImage, Failure> {
    let dir = TempDir::new().map_err(|e| Failure::ProviderError(e.to_string()))?;
    let input = dir.path().join("in.heic");
    let output = dir.path().join("out.png");
    std::fs::write(&input, bytes).map_err(|e| Failure::ProviderError(e.to_string()))?;
    let status = Command::new("heif-convert").arg(&input).arg(&output).output();
    match status {
        Ok(out) if out.status.success() => {
            let png = std::fs::read(&output).map_err(|_| Failure::UnsupportedFormat)?;
            decode_image(&png)
        }
        _ => Err(Failure::UnsupportedFormat),
    }
}

/// Scales `img` down so its longer side is at most `max_side` (never up).
pub fn downscale(img: &DynamicImage, max_side: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if w.max(h) <= max_side {
        return img.clone();
    }
    img.resize(max_side, max_side, image::imageops::FilterType::Triangle)
}

/// Rasterizes the first `max_pages` pages of a PDF to greyscale at `dpi`, with poppler's
/// `pdftoppm` (Debian `poppler-utils`).
pub fn rasterize_pdf(pdf: &[u8], dpi: u32, max_pages: u32) -> Result<Vec<GrayImage>, Failure> {
    let dir = TempDir::new().map_err(|e| Failure::ProviderError(e.to_string()))?;
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, pdf).map_err(|e| Failure::ProviderError(e.to_string()))?;
    let out = Command::new("pdftoppm")
        .args(["-gray", "-r", &dpi.to_string(), "-f", "1", "-l", &max_pages.to_string()])
        .arg(&input)
        .arg(dir.path().join("page"))
        .output()
        .map_err(|e| Failure::ProviderError(format!("pdftoppm: {e}")))?;
    if !out.status.success() {
        return Err(Failure::UnsupportedFormat);
    }
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .map_err(|e| Failure::ProviderError(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pgm"))
        .collect();
    pages.sort();
    pages
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|e| Failure::ProviderError(e.to_string()))?;
            image::load_from_memory(&bytes).map(|i| i.to_luma8()).map_err(|e| Failure::ProviderError(e.to_string()))
        })
        .collect()
}

/// A scratch directory removed on drop (for the external tools above).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!("attest-intake-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_luma8(w, h);
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(&png(300, 300)), Some(Format::Png));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(Format::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0]), Some(Format::Jpeg));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), Some(Format::Heic));
        assert_eq!(sniff(b"\0\0\0\x18ftypavif\0\0\0\0mif1avif"), None);
        assert_eq!(sniff(b"just some text, named passport.jpg"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"GIF89a......"), None);
        assert!(matches!(load(b"hello world"), Err(Failure::UnsupportedFormat)));
    }

    #[test]
    fn small_images_are_refused() {
        assert!(matches!(load(&png(120, 400)), Err(Failure::ImageTooSmall)));
        assert!(matches!(load(&png(300, 300)), Ok(Loaded::Image(_))));
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        // A real PNG header claiming 50 000 × 50 000 pixels (IHDR checksum fixed up),
        // with almost no data.
        let mut bomb = png(300, 300);
        bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(decode_image(&bomb), Err(Failure::ImageTooLarge)));
    }

    /// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A JPEG whose EXIF says "rotate 90° clockwise" (orientation 6), as phones write.
    fn jpeg_with_orientation(w: u32, h: u32, orientation: u8) -> Vec<u8> {
        let mut plain = Vec::new();
        DynamicImage::new_luma8(w, h).write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Jpeg).unwrap();
        // APP1 "Exif": a big-endian TIFF header and one IFD entry, tag 0x0112 (SHORT).
        let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0".to_vec();
        tiff.extend([orientation, 0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&plain[2..]);
        out
    }

    #[test]
    fn exif_orientation_is_applied() {
        let Loaded::Image(img) = load(&jpeg_with_orientation(400, 250, 6)).unwrap() else { panic!("an image") };
        assert_eq!((img.width(), img.height()), (250, 400));
        let Loaded::Image(img) = load(&jpeg_with_orientation(400, 250, 1)).unwrap() else { panic!("an image") };
        assert_eq!((img.width(), img.height()), (400, 250));
    }

    /// HEIC through libheif's tools (Debian `libheif-examples`, installed by the scripts).
    #[test]
    fn heic_is_decoded_when_libheif_tools_are_installed() {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("in.png"), png(320, 240)).unwrap();
        let encoded = Command::new("heif-enc").arg(dir.path().join("in.png")).arg("-o").arg(dir.path().join("out.heic")).output();
        let Ok(out) = encoded else {
            assert!(std::env::var("ATTEST_TEST_REQUIRE_MODELS").is_err(), "heif-enc is missing (apt: libheif-examples)");
            return;
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let heic = std::fs::read(dir.path().join("out.heic")).unwrap();
        assert_eq!(sniff(&heic), Some(Format::Heic));
        let Loaded::Image(img) = load(&heic).unwrap() else { panic!("an image") };
        assert_eq!((img.width(), img.height()), (320, 240));
    }

    #[test]
    fn downscale_keeps_aspect_and_never_upscales() {
        let img = DynamicImage::new_luma8(4000, 2000);
        let small = downscale(&img, 1000);
        assert_eq!((small.width(), small.height()), (1000, 500));
        let same = downscale(&DynamicImage::new_luma8(300, 200), 1000);
        assert_eq!((same.width(), same.height()), (300, 200));
    }
}
