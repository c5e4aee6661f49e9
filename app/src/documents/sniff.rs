//! What a file really is, from its first bytes (never from its name or the client's
//! content type): the extraction crate's sniffer, so the upload accepts exactly what
//! the pipeline can open.

pub use attest_extract::intake::{sniff, Format};
