//! `sfhooks package`: the Metadata API zip for a sandbox, production, or an uninstall.
//!
//! The zip is built from the same validated configuration as `generate` (or, with `--from`, from
//! a tree `generate` wrote, described by its manifest), and the signing secret is added here, at the last moment, so it never
//! sits in the source tree or in git. The secret is read, checked, and written into one zip entry;
//! it is never printed, logged, or put in an error message. The zip is written to a temporary
//! file beside the target and renamed into place, so a failure never leaves a partial zip.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{InputArgs, PackageArgs};
use crate::exit::{self, Hinted, UsageError};
use crate::secret_flags::SecretFlags;
use sfhooks::generated::{Generated, Manifest};
use sfhooks::mdapi::{self, MdapiError, PackageKind};
use sfhooks::package::{self, Package};
use sfhooks::scheme::SignatureScheme;
use sfhooks::shell;

/// Runs `sfhooks package`.
pub fn run(args: &PackageArgs) -> anyhow::Result<u8> {
    let folder = check_out(&args.out)?;
    let secret = SecretFlags {
        file: args.secret_file.as_deref(),
        no_secret: args.no_secret,
    };
    let kind = if args.uninstall {
        PackageKind::Uninstall
    } else {
        PackageKind::Deploy
    };
    let built = match &args.from {
        Some(dir) => {
            warn_ignored_with_from(&args.input);
            build_from_dir(dir, &args.input, secret, kind)?
        }
        None => {
            let config = sfhooks::config::load(&args.input.overrides())?;
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            let secret = secret.for_config(&config, kind)?;
            package::build_from_config(&config, secret, kind)?
        }
    };
    write_atomically(&args.out, &folder, &built.bytes)?;
    eprintln!(
        "wrote {} ({} bytes, {})",
        args.out.display(),
        built.bytes.len(),
        summary(&built)
    );
    if args.production {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(production_commands(&args.out, &built.test_classes).as_bytes())?;
        stdout.flush()?;
    }
    Ok(exit::OK)
}

/// What `run` says about a built zip.
fn summary(built: &Package) -> &'static str {
    match (built.kind, built.has_secret_record) {
        (PackageKind::Uninstall, _) => {
            "uninstall: destructiveChanges.xml lists every generated component"
        }
        (_, true) => "the signing secret is in its settings record",
        (_, false) => "no secret record (--no-secret): add it in Setup > Custom Metadata Types",
    }
}

fn build_from_dir(
    dir: &Path,
    input: &InputArgs,
    secret: SecretFlags<'_>,
    kind: PackageKind,
) -> anyhow::Result<Package> {
    let not_generated = |e: &dyn std::fmt::Display| -> anyhow::Error {
        Hinted {
            message: format!("--from {}: {e}", dir.display()),
            hint: "--from packages only a folder written by `sfhooks generate --out DIR`; \
                   regenerate it, or package from the configuration instead (drop --from)"
                .to_string(),
            code: exit::USAGE,
        }
        .into()
    };
    if !dir.is_dir() {
        return Err(UsageError::new(format!(
            "--from {}: not a folder (give the folder `sfhooks generate --out` wrote)",
            dir.display()
        ))
        .into());
    }
    let tree = mdapi::read_tree(dir).map_err(|e| not_generated(&e))?;
    let api_version = mdapi::api_version(&tree).map_err(|e| not_generated(&e))?;
    let prefix = mdapi::tree_prefix(&tree).map_err(|e| not_generated(&e))?;
    sfhooks::naming::validate_prefix(&prefix).map_err(|e| {
        not_generated(&MdapiError::ForeignPrefix {
            prefix: prefix.clone(),
            reason: e.to_string(),
        })
    })?;
    let manifest = Manifest::read(dir).map_err(|e| not_generated(&e))?;
    let generated = Generated {
        files: tree,
        manifest,
    };
    package::check_tree(&generated, &prefix, &api_version).map_err(|e| not_generated(&e))?;
    let scheme = generated.manifest.signature_scheme;
    if let Some(given) = input.signature_scheme.filter(|given| *given != scheme) {
        return Err(UsageError::new(format!(
            "--from {}: the tree signs with the {} scheme, but --signature-scheme says {}: \
             drop the flag (the tree decides), or regenerate the tree with \
             --signature-scheme {}",
            dir.display(),
            scheme_name(scheme),
            scheme_name(given),
            scheme_name(given)
        ))
        .into());
    }
    let secret = match kind {
        PackageKind::Uninstall => None,
        _ => secret.resolve(None, scheme)?,
    };
    package::build(&generated, secret, kind).map_err(|e| not_generated(&e))
}

fn scheme_name(scheme: SignatureScheme) -> &'static str {
    match scheme {
        SignatureScheme::Standard => "standard",
        SignatureScheme::Elements => "elements",
    }
}

/// The flags `--from` does not read: say so instead of ignoring them silently.
fn warn_ignored_with_from(input: &InputArgs) {
    let given = [
        ("--config", input.config.is_some()),
        ("--instance", input.instance.is_some()),
        ("--objects", input.objects.is_some()),
        ("--callback-url", input.callback_url.is_some()),
        ("--events", input.events.is_some()),
        ("--api-version", input.api_version.is_some()),
        ("--prefix", input.prefix.is_some()),
    ];
    let ignored: Vec<&str> = given
        .iter()
        .filter(|(_, set)| *set)
        .map(|(flag, _)| *flag)
        .collect();
    if !ignored.is_empty() {
        eprintln!(
            "warning: {} ignored with --from: the tree on disk is packaged as it is",
            ignored.join(", ")
        );
    }
}

/// Refuses an output path that is a folder or whose folder is missing; returns the folder.
fn check_out(out: &Path) -> anyhow::Result<PathBuf> {
    if out.is_dir() {
        return Err(UsageError::new(format!(
            "--out {} is a folder: give a file name, e.g. {}",
            out.display(),
            out.join("sfhooks.zip").display()
        ))
        .into());
    }
    if out.file_name().is_none() {
        return Err(
            UsageError::new(format!("--out {} does not name a file", out.display())).into(),
        );
    }
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Err(UsageError::new(format!(
            "cannot write {}: the folder {} does not exist",
            out.display(),
            folder.display()
        ))
        .into());
    }
    Ok(folder)
}

/// Writes to a temporary file in the target folder, then renames it over the target: readers
/// see the old file or the whole new one, and a failure leaves nothing behind (the temporary
/// file is removed when dropped). The file keeps tempfile's mode 0600: it holds the secret.
fn write_atomically(out: &Path, folder: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".sfhooks-")
        .suffix(".zip.tmp")
        .tempfile_in(folder)
        .map_err(|e| {
            UsageError::new(format!(
                "cannot write {}: the folder {} is not writable ({e})",
                out.display(),
                folder.display()
            ))
        })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", out.display()))?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// The commands that ship the zip to production: sfhooks's own, and the Salesforce CLI's.
///
/// `sf project deploy start --metadata-dir` takes a folder or a zip; `--single-package` says the
/// zip's root is the package itself (package.xml at the top), which is how sfhooks builds it.
/// RunSpecifiedTests needs every test named; `--tests` is repeated once per class.
pub fn production_commands(out: &Path, test_classes: &[String]) -> String {
    let out = out.to_string_lossy();
    let zip = shell::quote(&out);
    let mut sf = format!(
        "sf project deploy start --metadata-dir {zip} --single-package --test-level RunSpecifiedTests"
    );
    for class in test_classes {
        sf.push_str(" --tests ");
        sf.push_str(&shell::quote(class));
    }
    format!(
        "# Deploy to production with sfhooks (runs the generated tests):\n\
         sfhooks deploy --production --zip {zip}\n\
         # Or with the Salesforce CLI, from your SFDX project folder (add --target-org <alias> \
         unless production is your default org):\n\
         {sf}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_commands_name_every_test_class() {
        let text = production_commands(
            Path::new("out dir/sfhooks.zip"),
            &["ATests".to_string(), "BTests".to_string()],
        );
        assert!(text.contains("sfhooks deploy --production --zip 'out dir/sfhooks.zip'\n"));
        assert!(text.contains(
            "sf project deploy start --metadata-dir 'out dir/sfhooks.zip' --single-package \
             --test-level RunSpecifiedTests --tests ATests --tests BTests\n"
        ));
    }
}
