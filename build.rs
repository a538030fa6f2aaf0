//! Rebuild when a template changes: `include_dir!` embeds templates/ but cannot tell cargo so.
fn main() {
    println!("cargo:rerun-if-changed=templates");
}
