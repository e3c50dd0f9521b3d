//! One file per screen, named like its pair in `update/`.

pub mod browse;
pub mod rollout;
