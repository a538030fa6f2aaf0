//! `sfhooks package`: the Metadata API zip for a sandbox, production, or an uninstall.
//!
//! The zip is built from the same validated configuration as `generate` (or, with `--from`, from
//! a tree `generate` wrote), and the signing secret is added here, at the last moment, so it never
//! sits in the source tree or in git. The secret is read, checked, and written into one zip entry;
//! it is never printed, logged, or put in an error message. The zip is written to a temporary
//! file beside the target and renamed into place, so a failure never leaves a partial zip.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{InputArgs, PackageArgs};
use crate::exit::{self, Hinted, UsageError};
use sfhooks::config::{Config, Events};
use sfhooks::mdapi::{self, MdapiError, PackageKind, SecretRecord, SourceTree};
use sfhooks::redacted::Redacted;
use sfhooks::scheme::SignatureScheme;
use sfhooks::shell;
use sfhooks::signing_secret::{self, SecretSources, SigningSecretError};

/// How to get a secret, for the error that says there is none.
const NO_SECRET_HINT: &str = "make one with `sfhooks secret > secret.txt` and pass \
`--secret-file secret.txt` (or set SFHOOKS_SECRET); or build with --no-secret and add the \
settings record in Setup > Custom Metadata Types afterwards";

/// Runs `sfhooks package`.
pub fn run(args: &PackageArgs) -> anyhow::Result<u8> {
    let folder = check_out(&args.out)?;
    let secret = SecretInputs {
        file: args.secret_file.as_deref(),
        no_secret: args.no_secret,
    };
    let built = match &args.from {
        Some(dir) => {
            warn_ignored_with_from(&args.input);
            build_from_dir(dir, &args.input, secret, args.uninstall)?
        }
        None => build_from_config(&args.input, secret, args.uninstall)?,
    };
    write_atomically(&args.out, &folder, &built.bytes)?;
    eprintln!(
        "wrote {} ({} bytes, {})",
        args.out.display(),
        built.bytes.len(),
        built.summary
    );
    if args.production {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(production_commands(&args.out, &built.test_classes).as_bytes())?;
        stdout.flush()?;
    }
    Ok(exit::OK)
}

/// Builds the zip bytes for `sfhooks deploy` from the configuration inputs, with the same secret
/// rules as `sfhooks package`; `uninstall` builds the destructive zip (no secret needed).
pub fn build_for_deploy(
    input: &InputArgs,
    secret_file: Option<&Path>,
    no_secret: bool,
    uninstall: bool,
) -> anyhow::Result<Vec<u8>> {
    let secret = SecretInputs {
        file: secret_file,
        no_secret,
    };
    Ok(build_from_config(input, secret, uninstall)?.bytes)
}

/// A built zip and what `run` says about it.
struct Built {
    bytes: Vec<u8>,
    test_classes: Vec<String>,
    summary: &'static str,
}

/// Where a secret may come from, besides the environment and the instance JSON.
#[derive(Clone, Copy)]
struct SecretInputs<'a> {
    file: Option<&'a Path>,
    no_secret: bool,
}

fn build_from_config(
    input: &InputArgs,
    secret: SecretInputs<'_>,
    uninstall: bool,
) -> anyhow::Result<Built> {
    let config = sfhooks::config::load(&input.overrides())?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let tree = sfhooks::render::render(&config)?;
    let instance_key = config.signature_key.as_ref();
    build(
        &tree,
        &config.api_version,
        config.signature_scheme,
        instance_key,
        secret,
        uninstall,
    )
    // The tree came from our own templates: a conversion failure is a bug, not bad input.
    .map_err(|e| match e {
        BuildError::Secret(e) => e,
        BuildError::Tree(e) => anyhow::Error::new(e)
            .context("cannot package the generated tree (a bug in sfhooks, please report it)"),
    })
}

fn build_from_dir(
    dir: &Path,
    input: &InputArgs,
    secret: SecretInputs<'_>,
    uninstall: bool,
) -> anyhow::Result<Built> {
    let not_generated = |e: MdapiError| -> anyhow::Error {
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
    let tree = mdapi::read_tree(dir).map_err(not_generated)?;
    let api_version = mdapi::api_version(&tree).map_err(not_generated)?;
    let prefix = mdapi::tree_prefix(&tree).map_err(not_generated)?;
    sfhooks::naming::validate_prefix(&prefix).map_err(|e| {
        not_generated(MdapiError::ForeignPrefix {
            prefix: prefix.clone(),
            reason: e.to_string(),
        })
    })?;
    // The prefix is valid, so rendering cannot fail on the input: a failure is a bug.
    let references = References::render(&prefix, &api_version)?;
    mdapi::check_complete(&tree, &references.standard, &prefix).map_err(not_generated)?;
    let scheme = match (references.scheme_of(&tree), input.signature_scheme) {
        (Some(found), Some(given)) if found != given => {
            return Err(UsageError::new(format!(
                "--from {}: the tree signs with the {} scheme, but --signature-scheme says {}: \
                 drop the flag (the tree decides), or regenerate the tree with \
                 --signature-scheme {}",
                dir.display(),
                scheme_name(found),
                scheme_name(given),
                scheme_name(given)
            ))
            .into())
        }
        (Some(found), _) => found,
        (None, given) => given.unwrap_or(SignatureScheme::Standard),
    };
    build(&tree, &api_version, scheme, None, secret, uninstall).map_err(|e| match e {
        BuildError::Secret(e) => e,
        BuildError::Tree(e) => not_generated(e),
    })
}

/// What sfhooks renders for a prefix with no objects, once per signature scheme: every file a
/// generated tree holds whatever its configuration, except the per-object triggers.
struct References {
    standard: SourceTree,
    elements: SourceTree,
}

impl References {
    fn render(prefix: &str, api_version: &str) -> Result<Self, sfhooks::render::RenderError> {
        let config = |signature_scheme| Config {
            objects: Vec::new(),
            callback_url: url::Url::parse("https://example.invalid/")
                .expect("a constant, valid URL"),
            events: Events {
                created: true,
                updated: true,
                deleted: true,
                undeleted: true,
            },
            api_version: api_version.to_string(),
            prefix: prefix.to_string(),
            out_dir: PathBuf::new(),
            signature_scheme,
            signature_key: None,
            warnings: Vec::new(),
        };
        Ok(References {
            standard: sfhooks::render::render(&config(SignatureScheme::Standard))?,
            elements: sfhooks::render::render(&config(SignatureScheme::Elements))?,
        })
    }

    /// The scheme a tree was generated with: among the files whose text depends on the scheme
    /// (the signer and its tests), some equal one scheme's rendering and none the other's.
    /// `None` when that is not clear (files edited, or written by another sfhooks version).
    fn scheme_of(&self, tree: &SourceTree) -> Option<SignatureScheme> {
        let mut standard = 0;
        let mut elements = 0;
        for (path, text) in &self.standard {
            let Some(other) = self.elements.get(path) else {
                continue;
            };
            if other == text {
                continue;
            }
            match tree.get(path) {
                Some(found) if found == text => standard += 1,
                Some(found) if found == other => elements += 1,
                _ => {}
            }
        }
        match (standard, elements) {
            (s, 0) if s > 0 => Some(SignatureScheme::Standard),
            (0, e) if e > 0 => Some(SignatureScheme::Elements),
            _ => None,
        }
    }
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

enum BuildError {
    /// The secret is missing or malformed: already a usage error.
    Secret(anyhow::Error),
    /// The tree could not be converted.
    Tree(MdapiError),
}

fn build(
    tree: &SourceTree,
    api_version: &str,
    scheme: SignatureScheme,
    instance_key: Option<&Redacted<String>>,
    secret: SecretInputs<'_>,
    uninstall: bool,
) -> Result<Built, BuildError> {
    let test_classes = mdapi::test_classes(tree);
    if uninstall {
        let bytes = mdapi::build_zip(tree, api_version, None, PackageKind::Uninstall)
            .map_err(BuildError::Tree)?;
        return Ok(Built {
            bytes,
            test_classes,
            summary: "uninstall: destructiveChanges.xml lists every generated component",
        });
    }
    let settings = mdapi::settings_object(tree).map_err(BuildError::Tree)?;
    let secret_value = resolve_secret(secret, instance_key, scheme).map_err(BuildError::Secret)?;
    let record = secret_value.map(|value| SecretRecord::new(&settings, value));
    let bytes = mdapi::build_zip(tree, api_version, record.as_ref(), PackageKind::Deploy)
        .map_err(BuildError::Tree)?;
    Ok(Built {
        bytes,
        test_classes,
        summary: if record.is_some() {
            "the signing secret is in its settings record"
        } else {
            "no secret record (--no-secret): add it in Setup > Custom Metadata Types"
        },
    })
}

/// Finds and checks the secret with the library's one set of rules
/// ([`sfhooks::signing_secret`]); `None` only with `--no-secret`.
fn resolve_secret(
    inputs: SecretInputs<'_>,
    instance_key: Option<&Redacted<String>>,
    scheme: SignatureScheme,
) -> anyhow::Result<Option<Redacted<String>>> {
    let env = std::env::var_os(signing_secret::SECRET_ENV);
    let sources = SecretSources {
        file: inputs.file,
        env: env.as_ref(),
        instance_key,
        no_secret: inputs.no_secret,
    };
    signing_secret::resolve(sources, scheme).map_err(|e| match e {
        SigningSecretError::Missing => Hinted {
            message: e.to_string(),
            hint: NO_SECRET_HINT.to_string(),
            code: exit::USAGE,
        }
        .into(),
        other => UsageError::new(other.to_string()).into(),
    })
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
