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
use base64::Engine;

use crate::cli::{InputArgs, PackageArgs, SignatureScheme};
use crate::config::Config;
use crate::exit::{self, Hinted, UsageError};
use crate::generated::{Generated, Manifest};
use crate::mdapi::{self, MdapiError, PackageKind};
use crate::package::{self, Package};
use crate::redacted::Redacted;
use crate::webhook::wire::{MIN_SECRET_BYTES, SECRET_PREFIX};

/// The environment variable that may hold the signing secret.
pub const SECRET_ENV: &str = "SFHOOKS_SECRET";
/// The settings field holding the secret is a Text(255).
pub const MAX_SECRET_CHARS: usize = 255;

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
            let config = crate::config::load(&args.input)?;
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            let secret = secret_for_config(&config, secret, kind)?;
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

/// Where a secret may come from, besides the environment and the instance JSON.
#[derive(Clone, Copy)]
pub(crate) struct SecretInputs<'a> {
    /// `--secret-file`.
    pub(crate) file: Option<&'a Path>,
    /// `--no-secret`.
    pub(crate) no_secret: bool,
}

/// The secret for a zip of `kind` built from a loaded configuration: none for an uninstall zip.
pub(crate) fn secret_for_config(
    config: &Config,
    secret: SecretInputs<'_>,
    kind: PackageKind,
) -> anyhow::Result<Option<Redacted<String>>> {
    match kind {
        PackageKind::Uninstall => Ok(None),
        _ => resolve_secret(
            secret,
            config.signature_key.as_ref(),
            config.signature_scheme,
        ),
    }
}

fn build_from_dir(
    dir: &Path,
    input: &InputArgs,
    secret: SecretInputs<'_>,
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
    crate::naming::validate_prefix(&prefix).map_err(|e| {
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
        _ => resolve_secret(secret, None, scheme)?,
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

/// Finds the secret: `--secret-file`, else `$SFHOOKS_SECRET`, else the instance JSON's
/// `event.notification.signature.key`; checks it for the scheme. `None` only with `--no-secret`.
pub(crate) fn resolve_secret(
    inputs: SecretInputs<'_>,
    instance_key: Option<&Redacted<String>>,
    scheme: SignatureScheme,
) -> anyhow::Result<Option<Redacted<String>>> {
    if inputs.no_secret {
        if inputs.file.is_some() {
            return Err(UsageError::new(
                "--no-secret and --secret-file contradict each other: choose one",
            )
            .into());
        }
        return Ok(None);
    }
    let (value, source) = if let Some(path) = inputs.file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!("cannot read --secret-file {}: {e}", path.display()))
        })?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() > 1 {
            return Err(UsageError::new(format!(
                "--secret-file {} holds {} lines: the package takes exactly one secret",
                path.display(),
                lines.len()
            ))
            .into());
        }
        // The file's line break is not part of the secret; anything else is taken verbatim.
        let line = lines
            .first()
            .map(|l| l.trim_end_matches('\r'))
            .unwrap_or_default();
        (
            Redacted::new(line.to_string()),
            format!("--secret-file {}", path.display()),
        )
    } else if let Some(value) = std::env::var_os(SECRET_ENV).filter(|v| !v.is_empty()) {
        let value = value
            .into_string()
            .map_err(|_| UsageError::new(format!("${SECRET_ENV} is not valid UTF-8")))?;
        (Redacted::new(value), format!("${SECRET_ENV}"))
    } else if let Some(key) = instance_key {
        (
            Redacted::new(key.expose().clone()),
            "event.notification.signature.key of --instance".to_string(),
        )
    } else {
        return Err(Hinted {
            message: format!(
                "no signing secret: none in --secret-file, ${SECRET_ENV}, or the --instance \
                 JSON's event.notification.signature.key"
            ),
            hint: NO_SECRET_HINT.to_string(),
            code: exit::USAGE,
        }
        .into());
    };
    check_secret(value.expose(), scheme)
        .map_err(|problem| UsageError::new(format!("the secret from {source} {problem}")))?;
    Ok(Some(value))
}

/// Checks a secret for a scheme; the message never contains the secret.
///
/// Standard Webhooks: `whsec_` + base64 of at least [`MIN_SECRET_BYTES`] bytes (the Apex signs
/// with the decoded bytes). Open Connectors: any key. Both go into a Text(255) field as XML text,
/// so control characters are refused.
pub fn check_secret(secret: &str, scheme: SignatureScheme) -> Result<(), String> {
    if secret.is_empty() {
        return Err("is empty".to_string());
    }
    if secret.chars().count() > MAX_SECRET_CHARS {
        return Err(format!(
            "is longer than {MAX_SECRET_CHARS} characters, the size of the settings field"
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err("contains control characters (a line break?)".to_string());
    }
    if scheme == SignatureScheme::Standard {
        let Some(encoded) = secret.strip_prefix(SECRET_PREFIX) else {
            return Err(format!(
                "does not start with {SECRET_PREFIX}: the standard scheme takes a Standard \
                 Webhooks secret (make one with `sfhooks secret`; an Open Connectors key needs \
                 --signature-scheme elements)"
            ));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| {
                format!("is not {SECRET_PREFIX} followed by base64 (standard alphabet, = padding)")
            })?;
        if decoded.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "decodes to {} bytes; at least {MIN_SECRET_BYTES} are needed",
                decoded.len()
            ));
        }
    }
    Ok(())
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
    let zip = shell_quote(&out.to_string_lossy());
    let mut sf = format!(
        "sf project deploy start --metadata-dir {zip} --single-package --test-level RunSpecifiedTests"
    );
    for class in test_classes {
        sf.push_str(" --tests ");
        sf.push_str(&shell_quote(class));
    }
    format!(
        "# Deploy to production with sfhooks (runs the generated tests):\n\
         sfhooks deploy --production --zip {zip}\n\
         # Or with the Salesforce CLI, from your SFDX project folder (add --target-org <alias> \
         unless production is your default org):\n\
         {sf}\n"
    )
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_secrets_need_whsec_and_24_bytes() {
        // The Standard Webhooks spec's example secret: 24 bytes.
        let spec = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        assert_eq!(check_secret(spec, SignatureScheme::Standard), Ok(()));
        let short = format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 23])
        );
        assert!(check_secret(&short, SignatureScheme::Standard)
            .expect_err("short")
            .contains("23 bytes"));
        assert!(check_secret(
            "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            SignatureScheme::Standard
        )
        .expect_err("no prefix")
        .contains("does not start with whsec_"));
        assert!(check_secret("whsec_!!!!", SignatureScheme::Standard)
            .expect_err("not base64")
            .contains("base64"));
    }

    #[test]
    fn elements_keys_are_free_form_but_bounded() {
        assert_eq!(check_secret("12345", SignatureScheme::Elements), Ok(()));
        assert!(check_secret("", SignatureScheme::Elements).is_err());
        assert!(check_secret(&"k".repeat(256), SignatureScheme::Elements).is_err());
        assert_eq!(
            check_secret(&"k".repeat(255), SignatureScheme::Elements),
            Ok(())
        );
        assert!(check_secret("a\nb", SignatureScheme::Elements).is_err());
    }

    #[test]
    fn messages_never_contain_the_secret() {
        for (secret, scheme) in [
            ("whsec_c2VjcmV0", SignatureScheme::Standard),
            ("notawhsecvalue", SignatureScheme::Standard),
            ("x\u{7}secretvalue", SignatureScheme::Elements),
        ] {
            let message = check_secret(secret, scheme).expect_err("invalid");
            assert!(!message.contains(secret), "{message}");
            assert!(!message.contains("secretvalue") && !message.contains("c2VjcmV0"));
        }
    }

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

    #[test]
    fn shell_quote_quotes_only_when_needed() {
        assert_eq!(shell_quote("a/b.zip"), "a/b.zip");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
