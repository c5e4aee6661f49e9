//! Face embeddings and how two of them become a 0–1 score.
//!
//! dlib's ResNet maps an aligned face to 128 numbers such that photos of one person lie
//! close together: a euclidean distance below 0.6 is dlib's usual "same person" cutoff
//! (99.38 % on LFW), and two photos of one person typically measure about 0.25–0.4.
//!
//! The product shows a score, not a distance, so the distance is mapped linearly:
//!
//! ```text
//! score = clamp(1 − distance / 1.2, 0, 1)      distance = 1.2 × (1 − score)
//! ```
//!
//! A distance of 0 scores 1, dlib's cutoff 0.6 scores exactly 0.5 (hence
//! [`DEFAULT_THRESHOLD`]), a typical same-person 0.25 scores ≈ 0.79, and different
//! people (usually 0.7–1.0) score ≈ 0.4–0.17. Linear keeps the score invertible by hand,
//! so a reviewer can reason about a configured threshold in dlib's own terms.

use serde::{Deserialize, Serialize};

/// Number of values in a dlib face descriptor.
pub const EMBEDDING_LEN: usize = 128;

/// dlib's usual same-person cutoff on the euclidean distance.
pub const SAME_PERSON_DISTANCE: f64 = 0.6;

/// The distance at which the score reaches 0 (twice dlib's cutoff, so the cutoff sits
/// in the middle of the scale).
pub const ZERO_SCORE_DISTANCE: f64 = 2.0 * SAME_PERSON_DISTANCE;

/// Default match threshold: the score of [`SAME_PERSON_DISTANCE`], i.e. 0.5.
pub const DEFAULT_THRESHOLD: f64 = 1.0 - SAME_PERSON_DISTANCE / ZERO_SCORE_DISTANCE;

/// A face descriptor: 128 finite numbers. Stored as JSON (an array of numbers); values
/// that are not exactly 128 finite numbers are refused when deserializing, so every
/// `Embedding` in hand can be scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f32>", into = "Vec<f32>")]
pub struct Embedding(Vec<f32>);

/// Why a stored vector is not an [`Embedding`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmbedding {
    #[error("a face embedding has {EMBEDDING_LEN} values, not {0}")]
    Length(usize),
    #[error("a face embedding holds only finite numbers")]
    NotFinite,
}

impl Embedding {
    /// The descriptor's values.
    pub fn values(&self) -> &[f32] {
        &self.0
    }

    /// Euclidean distance to `other`, the quantity dlib's 0.6 cutoff applies to.
    pub fn distance(&self, other: &Embedding) -> f64 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| {
                let d = f64::from(*a) - f64::from(*b);
                d * d
            })
            .sum::<f64>()
            .sqrt()
    }
}

impl TryFrom<Vec<f32>> for Embedding {
    type Error = InvalidEmbedding;

    fn try_from(values: Vec<f32>) -> Result<Self, Self::Error> {
        if values.len() != EMBEDDING_LEN {
            return Err(InvalidEmbedding::Length(values.len()));
        }
        if !values.iter().all(|v| v.is_finite()) {
            return Err(InvalidEmbedding::NotFinite);
        }
        Ok(Embedding(values))
    }
}

impl From<Embedding> for Vec<f32> {
    fn from(embedding: Embedding) -> Self {
        embedding.0
    }
}

/// Similarity of two faces in 0–1 (1 = identical descriptors); see the module docs for
/// the mapping. Compare with [`DEFAULT_THRESHOLD`] or the workspace's configured one.
pub fn score(a: &Embedding, b: &Embedding) -> f64 {
    score_for_distance(a.distance(b))
}

/// The score of a euclidean distance: `clamp(1 − distance / 1.2, 0, 1)`.
pub fn score_for_distance(distance: f64) -> f64 {
    if distance.is_nan() {
        return 0.0;
    }
    (1.0 - distance / ZERO_SCORE_DISTANCE).clamp(0.0, 1.0)
}

/// The distance a score stands for (the inverse of [`score_for_distance`] on 0–1).
pub fn distance_for_score(score: f64) -> f64 {
    ZERO_SCORE_DISTANCE * (1.0 - score.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(v: f32) -> Embedding {
        Embedding::try_from(vec![v; EMBEDDING_LEN]).expect("valid")
    }

    #[test]
    fn threshold_is_dlibs_cutoff() {
        assert!((DEFAULT_THRESHOLD - 0.5).abs() < 1e-12);
        assert!((score_for_distance(SAME_PERSON_DISTANCE) - DEFAULT_THRESHOLD).abs() < 1e-12);
        assert!((distance_for_score(DEFAULT_THRESHOLD) - SAME_PERSON_DISTANCE).abs() < 1e-12);
    }

    #[test]
    fn score_is_bounded_and_decreasing() {
        assert_eq!(score_for_distance(0.0), 1.0);
        assert!(score_for_distance(0.25) > score_for_distance(0.4));
        assert_eq!(score_for_distance(5.0), 0.0);
        assert_eq!(score_for_distance(f64::NAN), 0.0);
        assert_eq!(score(&constant(0.1), &constant(0.1)), 1.0);
        // 128 × 0.05² = 0.32, distance ≈ 0.566.
        let s = score(&constant(0.0), &constant(0.05));
        assert!((s - (1.0 - 0.32f64.sqrt() / 1.2)).abs() < 1e-6);
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let e = constant(0.25);
        let json = serde_json::to_string(&e).expect("serialize");
        assert_eq!(serde_json::from_str::<Embedding>(&json).expect("deserialize"), e);
        assert!(serde_json::from_str::<Embedding>("[1.0, 2.0]").is_err());
        assert!(Embedding::try_from(vec![f32::NAN; EMBEDDING_LEN]).is_err());
    }
}
