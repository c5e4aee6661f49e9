//! What a file really is, from its first bytes (never from its name or the client's
//! content type).

/// The formats Attest accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Heic,
    Pdf,
}

impl Format {
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

/// The format of `bytes`, or `None` when it is none of the accepted ones.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    match infer::get(bytes)?.mime_type() {
        "image/jpeg" => Some(Format::Jpeg),
        "image/png" => Some(Format::Png),
        "image/webp" => Some(Format::Webp),
        "image/heif" | "image/heic" | "image/avif" if is_heic(bytes) => Some(Format::Heic),
        "application/pdf" => Some(Format::Pdf),
        _ => None,
    }
}

/// HEIF containers also carry AVIF; only HEVC-coded brands are HEIC.
fn is_heic(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && matches!(&bytes[8..12], b"heic" | b"heix" | b"hevc" | b"hevx" | b"mif1" | b"msf1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0]), Some(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Format::Png));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Some(Format::Pdf));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), Some(Format::Heic));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), None);
        assert_eq!(sniff(b"just some text, named passport.jpg"), None);
        assert_eq!(sniff(b""), None);
    }
}
