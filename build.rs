//! Rebuild when a template changes: `include_dir!` embeds templates/ but cannot tell cargo so.
//! A template that is not UTF-8 fails the build here, so it can never render as an empty file.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=templates");
    check_utf8(Path::new("templates"));
}

fn check_utf8(dir: &Path) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            check_utf8(&path);
        } else if path.extension().is_some_and(|e| e == "tera") {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            if let Err(e) = std::str::from_utf8(&bytes) {
                panic!(
                    "{} is not UTF-8 ({e}): templates must be UTF-8, fix the file",
                    path.display()
                );
            }
        }
    }
}
