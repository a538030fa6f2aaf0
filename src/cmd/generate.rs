//! `sfhooks generate`: render the source tree and write it atomically, or `--check` it for drift.
//!
//! Writing happens in two phases: every changed file is first written to a temporary file beside
//! its target, and only when all of them exist are they renamed into place. A failure in the first
//! phase (disk full, permissions) removes the temporary files and leaves the tree as it was.
//!
//! Into a folder that does not exist yet, the whole tree is written into one staging folder beside
//! it, which is renamed into place at the end: the same guarantee with one rename instead of one
//! temporary file and one rename per file, and no lookups of files that cannot exist.
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::GenerateArgs;
use crate::exit;
use sfhooks::config::{self, Config};
use sfhooks::render::{self, SourceTree, GENERATED_HEADER};

/// Runs `sfhooks generate`.
pub fn run(args: &GenerateArgs) -> anyhow::Result<u8> {
    let config = config::load_with_out(&args.input.overrides(), args.out.as_deref())?;
    config.require_vendor(sfhooks::config::VendorType::Webhooks, "sfhooks generate")?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let tree = render::render(&config)?;
    let plan = WritePlan::new(&config, &tree)?;
    if args.check {
        return check(&config, &plan);
    }
    plan.apply(&config.out_dir)?;
    println!(
        "{} {} files in {} ({} changed, {} removed, {} unchanged)",
        if plan.is_empty() { "checked" } else { "wrote" },
        tree.len(),
        config.out_dir.display(),
        plan.writes.len(),
        plan.removals.len(),
        plan.unchanged
    );
    Ok(exit::OK)
}

/// The difference between the rendered tree and the folder on disk.
#[derive(Debug, Default)]
struct WritePlan {
    /// (relative path, old content if any, new content)
    writes: Vec<(String, Option<String>, String)>,
    /// (relative path, old content) of generated files the configuration no longer produces.
    removals: Vec<(String, String)>,
    unchanged: usize,
    /// The output folder did not exist: every file is new and the tree is staged as a whole.
    fresh: bool,
}

impl WritePlan {
    fn new(config: &Config, tree: &SourceTree) -> anyhow::Result<WritePlan> {
        let out = &config.out_dir;
        if out.exists() && !out.is_dir() {
            return Err(exit::UsageError::new(format!(
                "--out {} is a file; name a folder (default force-app/main/default)",
                out.display()
            ))
            .into());
        }
        let mut plan = WritePlan::default();
        if !out.exists() && out.file_name().is_some() {
            plan.fresh = true;
            plan.writes = tree
                .iter()
                .map(|(rel, content)| (rel.clone(), None, content.clone()))
                .collect();
            return Ok(plan);
        }
        for (rel, content) in tree {
            let path = out.join(rel);
            match read_if_exists(&path)? {
                Some(old) if &old == content => plan.unchanged += 1,
                old => plan.writes.push((rel.clone(), old, content.clone())),
            }
        }
        for rel in existing_files(out)? {
            if tree.contains_key(&rel) || !render::is_owned_path(&rel, &config.prefix) {
                continue;
            }
            let Some(old) = read_if_exists(&out.join(&rel))? else {
                continue;
            };
            if is_generated(&rel, &old, out) {
                plan.removals.push((rel, old));
            }
        }
        Ok(plan)
    }

    fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.removals.is_empty()
    }

    /// Writes every change: all temporary files first, then the renames, then the removals.
    fn apply(&self, out: &Path) -> anyhow::Result<()> {
        if self.fresh {
            return self.apply_fresh(out);
        }
        let mut staged = Vec::with_capacity(self.writes.len());
        let mut made = HashSet::new();
        for (rel, _, content) in &self.writes {
            let target = out.join(rel);
            let dir = target.parent().unwrap_or(out);
            if !made.contains(dir) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create folder {}", dir.display()))?;
                made.insert(dir.to_path_buf());
            }
            let mut tmp = tempfile::Builder::new()
                .prefix(".sfhooks-")
                .tempfile_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            tmp.write_all(content.as_bytes())
                .with_context(|| format!("cannot write {}", target.display()))?;
            staged.push((tmp, target));
        }
        for (tmp, target) in staged {
            tmp.persist(&target)
                .with_context(|| format!("cannot replace {}", target.display()))?;
        }
        for (rel, _) in &self.removals {
            let path = out.join(rel);
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove stale {}", path.display()))?;
        }
        Ok(())
    }
}

impl WritePlan {
    /// Writes the whole tree into a staging folder beside `out` and renames it to `out`. On any
    /// failure the staging folder is removed and `out` still does not exist.
    fn apply_fresh(&self, out: &Path) -> anyhow::Result<()> {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create folder {}", parent.display()))?;
        let name = out.file_name().unwrap_or_default().to_string_lossy();
        let staging = Staging::create(parent, &name)
            .with_context(|| format!("cannot write in {}", parent.display()))?;
        let mut made = HashSet::new();
        for (rel, _, content) in &self.writes {
            let file = staging.path.join(rel);
            let dir = file.parent().unwrap_or(&staging.path);
            if !made.contains(dir) {
                std::fs::create_dir_all(dir).with_context(|| {
                    let shown = out.join(rel);
                    format!(
                        "cannot create folder {}",
                        shown.parent().unwrap_or(out).display()
                    )
                })?;
                made.insert(dir.to_path_buf());
            }
            write_new(&file, content.as_bytes())
                .with_context(|| format!("cannot write {}", out.join(rel).display()))?;
        }
        std::fs::rename(&staging.path, out)
            .with_context(|| format!("cannot create folder {}", out.display()))?;
        staging.keep();
        Ok(())
    }
}

/// A folder beside the target that is removed when dropped, unless [`Staging::keep`] was called.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    /// Creates `.NAME.sfhooks-PID-N` in `parent` with the default folder permissions (what
    /// `create_dir_all` of the target would have given it).
    fn create(parent: &Path, name: &str) -> std::io::Result<Staging> {
        let pid = std::process::id();
        for n in 0u32.. {
            let path = parent.join(format!(".{name}.sfhooks-{pid}-{n}"));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Staging { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Creates a file that must not exist yet, with the permissions the temporary-file path gives
/// (0600 on Unix: `tempfile` creates files that way and `persist` keeps them).
fn write_new(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(content)
}

/// A stale Apex file is ours only if it carries the generated header; a meta file only if its
/// class or trigger does (or is gone). Everything else under the prefix is ours by name.
fn is_generated(rel: &str, content: &str, out: &Path) -> bool {
    if rel.ends_with(".cls") || rel.ends_with(".trigger") {
        return content.starts_with(GENERATED_HEADER);
    }
    if let Some(source) = rel.strip_suffix("-meta.xml") {
        if source.ends_with(".cls") || source.ends_with(".trigger") {
            return match std::fs::read_to_string(out.join(source)) {
                Ok(src) => src.starts_with(GENERATED_HEADER),
                Err(_) => true,
            };
        }
    }
    true
}

fn read_if_exists(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Every file below `root`, as paths relative to it with `/` separators, sorted.
fn existing_files(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let child = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(child);
            } else {
                files.push(child.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `--check`: exit 0 when the folder matches, 1 with a unified diff and the fix otherwise.
fn check(config: &Config, plan: &WritePlan) -> anyhow::Result<u8> {
    if plan.is_empty() {
        println!(
            "{} is up to date ({} files)",
            config.out_dir.display(),
            plan.unchanged
        );
        return Ok(exit::OK);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (rel, old, new) in &plan.writes {
        let old = old.as_deref().unwrap_or("");
        let diff = similar::TextDiff::from_lines(old, new.as_str());
        write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&format!("a/{rel}"), &format!("b/{rel}"))
        )?;
    }
    for (rel, old) in &plan.removals {
        let diff = similar::TextDiff::from_lines(old.as_str(), "");
        write!(
            out,
            "{}",
            diff.unified_diff().header(&format!("a/{rel}"), "/dev/null")
        )?;
    }
    out.flush()?;
    eprintln!(
        "{} is out of date: {} files differ, {} are stale.\nTo regenerate it, run: {}",
        config.out_dir.display(),
        plan.writes.len(),
        plan.removals.len(),
        regenerate_command()
    );
    Ok(exit::FAILURE)
}

/// The command line that was run, without `--check`, quoted for a POSIX shell.
fn regenerate_command() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--check")
        .collect();
    sfhooks::shell::join(std::iter::once("sfhooks").chain(args.iter().map(String::as_str)))
}
