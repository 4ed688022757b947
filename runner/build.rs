// `sqlx::migrate!` embeds runner/migrations at compile time; without this, a new
// migration file alone does not rebuild the runner (as sqlx's documentation says).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
