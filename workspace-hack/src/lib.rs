//! Empty on purpose: this crate's dependencies turn on, for every build, the features the
//! tests' dev-dependencies turn on (see its `Cargo.toml`), so that `cargo test` after
//! `cargo build --bins` compiles the tests and nothing else twice.
