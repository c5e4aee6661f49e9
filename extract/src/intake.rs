//! Intake: what an uploaded file really is, decoded into pixels we can trust.
//!
//! The format is sniffed from the bytes (never the name), images are decoded with EXIF
//! orientation applied, dimensions are checked *before* pixels are allocated (a 50 KB
//! PNG can claim 60 000 × 60 000 pixels), and PDFs are kept as PDFs for the text layer
//! or rasterized on demand with poppler's `pdftoppm`, after their page sizes are checked
//! against the same pixel cap. Nothing here parses an untrusted PDF or HEIC in this
//! process: the external tools run under [`crate::tools`]' limits, in a private
//! [`Scratch`] directory that is removed afterwards.

use crate::{tools, Failure};
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader};
use std::ffi::OsStr;
use std::io::Cursor;
use std::path::{Path, PathBuf};

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
    } else if bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(&bytes[8..12], b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1")
    {
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
/// clearly as `unsupported_format`. It runs under [`tools::Limits::DOCUMENT`]; its PNG
/// then goes through [`decode_image`]'s pixel check like any upload.
fn decode_heic(bytes: &[u8]) -> Result<DynamicImage, Failure> {
    let dir = Scratch::new().map_err(|e| Failure::ProviderError(format!("scratch directory: {e}")))?;
    let input = dir.write("in.heic", bytes)?;
    let output = dir.path().join("out.png");
    match tools::run("heif-convert", &[input.as_os_str(), output.as_os_str()], None, &tools::Limits::DOCUMENT) {
        Ok(()) => {
            let png = std::fs::read(&output).map_err(|_| Failure::UnsupportedFormat)?;
            decode_image(&png)
        }
        Err(e) if e.is_resource_exhaustion() => Err(Failure::ImageTooLarge),
        Err(_) => Err(Failure::UnsupportedFormat),
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

/// How a photo is lit and focused: the mean brightness (0–255) and the variance of its
/// Laplacian (low when blurred), measured on a copy at most 800 px on its longer side so
/// that photos of any resolution compare. Used to tell an applicant *why* an extractor
/// could not read a photo (too dark, blurred), never to judge a document by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    pub mean_luma: f32,
    pub sharpness: f32,
}

impl Exposure {
    /// Below this mean brightness a document photo is too dark to read.
    pub const DARK: f32 = 45.0;
    /// Below this Laplacian variance a photo is blurred (sharp text scores in the hundreds).
    pub const BLURRED: f32 = 60.0;

    pub fn is_dark(&self) -> bool {
        self.mean_luma < Self::DARK
    }

    pub fn is_blurred(&self) -> bool {
        self.sharpness < Self::BLURRED
    }
}

/// Measures [`Exposure`].
pub fn exposure(img: &DynamicImage) -> Exposure {
    let gray = downscale(img, 800).to_luma8();
    let (w, h) = gray.dimensions();
    let pixels = f64::from(w) * f64::from(h);
    let mean = gray.pixels().map(|p| f64::from(p.0[0])).sum::<f64>() / pixels.max(1.0);
    let (mut sum, mut sum_sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let at = |dx: i64, dy: i64| f64::from(gray.get_pixel((i64::from(x) + dx) as u32, (i64::from(y) + dy) as u32).0[0]);
            let laplacian = at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1) - 4.0 * at(0, 0);
            sum += laplacian;
            sum_sq += laplacian * laplacian;
            n += 1.0;
        }
    }
    let variance = if n > 0.0 { sum_sq / n - (sum / n).powi(2) } else { 0.0 };
    Exposure { mean_luma: mean as f32, sharpness: variance as f32 }
}

/// Rasterizes the first `max_pages` pages of a PDF to greyscale at `dpi`, with poppler's
/// `pdftoppm` (Debian `poppler-utils`).
///
/// A PDF says how big its pages are, and a 50-byte file can ask for a 200 × 200 inch
/// page (2.5 gigapixels at 250 dpi). So the page boxes are read first (`pdfinfo`) and a
/// page that would render past [`MAX_PIXELS`] is refused as [`Failure::ImageTooLarge`]
/// before anything is drawn; every rendered page is checked again before it is decoded.
/// Both tools run under [`tools::Limits::DOCUMENT`]; a run that exhausts a limit (time,
/// CPU, output size) is `image_too_large` too. All of these are permanent failures: the
/// same file would exhaust the same budget on every retry.
pub fn rasterize_pdf(pdf: &[u8], dpi: u32, max_pages: u32) -> Result<Vec<GrayImage>, Failure> {
    rasterize_pdf_with(pdf, dpi, max_pages, &tools::Limits::DOCUMENT, &std::env::temp_dir())
}

fn rasterize_pdf_with(pdf: &[u8], dpi: u32, max_pages: u32, limits: &tools::Limits, scratch_in: &Path) -> Result<Vec<GrayImage>, Failure> {
    let dir = Scratch::new_in(scratch_in).map_err(|e| Failure::ProviderError(format!("scratch directory: {e}")))?;
    let input = dir.write("in.pdf", pdf)?;
    let (first, last) = ("1".to_string(), max_pages.to_string());
    let info = dir.path().join("info.txt");
    let args = [OsStr::new("-box"), OsStr::new("-f"), OsStr::new(&first), OsStr::new("-l"), OsStr::new(&last), input.as_os_str()];
    tools::run("pdfinfo", &args, Some(&info), limits).map_err(|e| tool_failure("pdfinfo", e))?;
    let info = std::fs::read_to_string(&info).map_err(|e| Failure::ProviderError(format!("pdfinfo output: {e}")))?;
    let boxes = page_boxes(&info);
    if boxes.is_empty() {
        return Err(Failure::UnsupportedFormat);
    }
    let scale = f64::from(dpi) / 72.0;
    if boxes.iter().any(|&(w, h)| (w * scale).ceil() * (h * scale).ceil() > MAX_PIXELS as f64) {
        return Err(Failure::ImageTooLarge);
    }

    let dpi = dpi.to_string();
    let prefix = dir.path().join("page");
    let args = [
        OsStr::new("-gray"),
        OsStr::new("-r"),
        OsStr::new(&dpi),
        OsStr::new("-f"),
        OsStr::new(&first),
        OsStr::new("-l"),
        OsStr::new(&last),
        input.as_os_str(),
        prefix.as_os_str(),
    ];
    tools::run("pdftoppm", &args, None, limits).map_err(|e| tool_failure("pdftoppm", e))?;
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
            decode_rendered_page(&bytes)
        })
        .collect()
}

/// What a failed tool run means for the document: a limit exhausted by the file is
/// `image_too_large`, a missing tool is a provider error (installing it helps, so it is
/// retried), and a file the tool refuses is `unsupported_format`.
fn tool_failure(tool: &str, e: tools::ToolError) -> Failure {
    match e {
        tools::ToolError::TimedOut | tools::ToolError::OverLimit => Failure::ImageTooLarge,
        tools::ToolError::Missing(_) | tools::ToolError::Io(_) => Failure::ProviderError(format!("{tool}: {e:?}")),
        tools::ToolError::Failed(_) => Failure::UnsupportedFormat,
    }
}

/// Width and height (points) of each page `pdfinfo -box` lists: the larger of its
/// media box (what `pdftoppm` renders) and crop box. Lines are only ever added by a
/// crafted document title, never hidden, so taking the maximum cannot be fooled into a
/// smaller page.
fn page_boxes(info: &str) -> Vec<(f64, f64)> {
    let mut pages: std::collections::BTreeMap<u32, (f64, f64)> = std::collections::BTreeMap::new();
    for line in info.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let ["Page", page, kind, x0, y0, x1, y1] = words[..] else { continue };
        if !matches!(kind, "MediaBox:" | "CropBox:") {
            continue;
        }
        let (Ok(page), Ok(x0), Ok(y0), Ok(x1), Ok(y1)) = (page.parse::<u32>(), x0.parse::<f64>(), y0.parse::<f64>(), x1.parse::<f64>(), y1.parse::<f64>())
        else {
            continue;
        };
        let (w, h) = ((x1 - x0).abs(), (y1 - y0).abs());
        // Not a number or infinite: as large as it gets.
        let (w, h) = (if w.is_finite() { w } else { f64::MAX }, if h.is_finite() { h } else { f64::MAX });
        let seen = pages.entry(page).or_insert((0.0, 0.0));
        *seen = (seen.0.max(w), seen.1.max(h));
    }
    pages.into_values().collect()
}

/// A page `pdftoppm` rendered: its size checked against [`MAX_PIXELS`] from the header,
/// then decoded with the same allocation ceiling as uploads.
fn decode_rendered_page(bytes: &[u8]) -> Result<GrayImage, Failure> {
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| Failure::UnsupportedFormat)?;
    let mut decoder = reader.into_decoder().map_err(|_| Failure::UnsupportedFormat)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Failure::ImageTooLarge);
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    decoder.set_limits(limits).map_err(|_| Failure::ImageTooLarge)?;
    DynamicImage::from_decoder(decoder).map(|i| i.to_luma8()).map_err(|e| match e {
        image::ImageError::Limits(_) => Failure::ImageTooLarge,
        _ => Failure::UnsupportedFormat,
    })
}

/// A private scratch directory for the external tools, removed on drop: the files in
/// it are decrypted documents, so it is created with a random name and mode 0700 (no
/// other local user can list or open them, nor plant a symlink in advance), and each
/// file is written 0600.
pub(crate) struct Scratch(tempfile::TempDir);

impl Scratch {
    pub(crate) fn new() -> std::io::Result<Self> {
        Self::new_in(&std::env::temp_dir())
    }

    fn new_in(parent: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new().prefix("attest-intake-").permissions(std::fs::Permissions::from_mode(0o700)).tempdir_in(parent)?;
        // Whatever the umask made of the mode above.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        Ok(Scratch(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `bytes` to `name` in the directory (mode 0600) and returns its path.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, Failure> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path().join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| Failure::ProviderError(format!("scratch file: {e}")))?;
        Ok(path)
    }
}

/// A minimal one-page PDF with the given media box (in points) and a black square, no
/// text layer. Written by hand (a few objects and an xref table) so tests and tools can
/// make page-size bombs without a PDF library: 14 400 pt square is the largest page PDF
/// allows, 2.5 gigapixels at 250 dpi.
pub fn one_page_pdf(width: f64, height: f64) -> Vec<u8> {
    let content = "0 g 72 72 144 144 re f";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Contents 4 0 R >>"),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    pdf.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).bytes());
    pdf
}

#[cfg(test)]
mod tests {
    #[test]
    fn exposure_tells_dark_and_blurred_photos_from_sharp_ones() {
        let sharp = DynamicImage::ImageLuma8(GrayImage::from_fn(400, 300, |x, y| image::Luma([if (x / 8 + y / 8) % 2 == 0 { 230 } else { 20 }])));
        let measured = exposure(&sharp);
        assert!(!measured.is_dark() && !measured.is_blurred(), "{measured:?}");
        let blurred = DynamicImage::ImageLuma8(image::imageops::blur(&sharp.to_luma8(), 6.0));
        assert!(exposure(&blurred).is_blurred(), "{:?}", exposure(&blurred));
        let dark = DynamicImage::ImageLuma8(GrayImage::from_fn(400, 300, |x, y| image::Luma([if (x / 8 + y / 8) % 2 == 0 { 30 } else { 5 }])));
        assert!(exposure(&dark).is_dark());
    }

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
        let dir = Scratch::new().unwrap();
        std::fs::write(dir.path().join("in.png"), png(320, 240)).unwrap();
        let encoded = std::process::Command::new("heif-enc").arg(dir.path().join("in.png")).arg("-o").arg(dir.path().join("out.heic")).output();
        let Ok(out) = encoded else {
            attest_test_support::needs::check(&attest_test_support::needs::HEIF_ENC, false, "intake::heic_is_decoded_when_libheif_tools_are_installed");
            return;
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let heic = std::fs::read(dir.path().join("out.heic")).unwrap();
        assert_eq!(sniff(&heic), Some(Format::Heic));
        let Loaded::Image(img) = load(&heic).unwrap() else { panic!("an image") };
        assert_eq!((img.width(), img.height()), (320, 240));
    }

    /// A 200 × 200 inch page (the largest PDF allows) asks for 2.5 gigapixels at 250 dpi:
    /// refused from its page box, before poppler draws anything.
    #[test]
    fn a_pdf_page_bomb_is_refused_before_rendering() {
        let started = std::time::Instant::now();
        assert_eq!(rasterize_pdf(&one_page_pdf(14_400.0, 14_400.0), 250, 2).err(), Some(Failure::ImageTooLarge));
        // Also at preview resolution: 20 000 × 20 000 pixels would still be 400 MP.
        assert_eq!(rasterize_pdf(&one_page_pdf(14_400.0, 14_400.0), 100, 1).err(), Some(Failure::ImageTooLarge));
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
        // A real page still renders, at the expected size.
        let pages = rasterize_pdf(&one_page_pdf(612.0, 792.0), 100, 1).unwrap();
        assert_eq!((pages.len(), pages[0].width(), pages[0].height()), (1, 850, 1100));
    }

    /// A document title can print extra "Page 1 MediaBox" lines in `pdfinfo`'s output;
    /// they can only make a page look larger, never hide the real box.
    #[test]
    fn page_boxes_take_the_largest_box_per_page() {
        let info = "Title:          x\nPage    1 MediaBox:      0.00     0.00 1.00 1.00\nPages:          1\nPage    1 size:  14400 x 14400 pts\n\
                    Page    1 MediaBox:      0.00     0.00 14400.00 14400.00\nPage    1 CropBox:       0.00     0.00   612.00   792.00\n";
        assert_eq!(page_boxes(info), vec![(14_400.0, 14_400.0)]);
        assert_eq!(page_boxes("Page    1 MediaBox: 0 0 nan 10\n"), vec![(f64::MAX, 10.0)]);
        assert!(page_boxes("Pages: 0\n").is_empty());
    }

    /// A tool that runs out of its budget on a file is `image_too_large`, not a provider
    /// error: retrying would spend the same budget again.
    #[test]
    fn a_pdf_that_exhausts_the_time_budget_is_permanent() {
        let tiny = tools::Limits { wall: std::time::Duration::from_millis(1), ..tools::Limits::DOCUMENT };
        let parent = tempfile::tempdir().unwrap();
        let err = rasterize_pdf_with(&one_page_pdf(612.0, 792.0), 100, 1, &tiny, parent.path()).err();
        assert_eq!(err, Some(Failure::ImageTooLarge));
        assert!(!err.unwrap().is_transient());
    }

    /// Decrypted documents handed to the tools sit in a private directory (0700, files
    /// 0600, random name) that is gone afterwards, whether the run succeeded or failed.
    #[test]
    fn decrypted_scratch_files_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = Scratch::new_in(parent.path()).unwrap();
        let file = dir.write("in.pdf", b"%PDF-1.4 secret").unwrap();
        assert_eq!(std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let other = Scratch::new_in(parent.path()).unwrap();
        assert_ne!(dir.path(), other.path());
        drop((dir, other));
        assert!(!file.exists());

        let limits = tools::Limits::DOCUMENT;
        rasterize_pdf_with(&one_page_pdf(612.0, 792.0), 72, 1, &limits, parent.path()).unwrap();
        let _ = rasterize_pdf_with(b"%PDF-1.4 broken", 72, 1, &limits, parent.path());
        let _ = rasterize_pdf_with(&one_page_pdf(14_400.0, 14_400.0), 250, 1, &limits, parent.path());
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "scratch directories left behind");
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
