//! `sqlx::migrate!` embeds the migration files at compile time, but cargo only rebuilds this
//! crate when its own sources change. Watching both directories makes a new or edited
//! migration reach the binary without a `cargo clean`.
fn main() {
    println!("cargo:rerun-if-changed=postgres");
    println!("cargo:rerun-if-changed=sqlite");
}
