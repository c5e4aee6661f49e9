//! The workspace's settings page (`/w/:slug/settings`, `settings.manage`): each flow's
//! accepted document types, required documents, selfie threshold and decision policy
//! (stored by `flows::service`), and the address blacklist.

pub mod page;
