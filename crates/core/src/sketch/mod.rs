//! Streaming sketches in fixed memory: Count-Min for heavy hitters, SuperSpread for
//! super-spreaders. Both hash keys with the portable [`crate::hash::murmur3_32`] and draw any
//! randomness from a seeded counter-based generator, so every backend builds identical sketches.

pub mod countmin;
pub mod superspread;

mod random;

pub use random::CounterRng;
