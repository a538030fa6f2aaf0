//! What a generated source tree contains, said once: every file and its Metadata API type, which
//! classes are tests, which triggers they cover, the prefix, the API version and the signature
//! scheme. [`crate::render::generate`] returns it with the files it renders; `sfhooks package`
//! and `sfhooks deploy` take the test classes and the completeness check from it instead of
//! working them out again.
//!
//! `sfhooks generate` also writes it into the tree as [`MANIFEST_FILE`], a small JSON file that is
//! reviewed in the pull request like the rest, so `sfhooks package --from DIR` knows the tree
//! without its configuration. The name starts with a dot: the Salesforce CLI ignores dotfiles by
//! default (source-deploy-retrieve `ForceIgnore`, `DEFAULT_IGNORE` holds `**/.*`), so
//! `sf project deploy start --source-dir` never tries to deploy it, and `sfhooks package` never
//! puts it in a zip (docs/templates.md).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::render::SourceTree;
use crate::scheme::SignatureScheme;

/// The manifest's file name, at the root of the generated source folder.
pub const MANIFEST_FILE: &str = ".sfhooks-manifest.json";

/// The layout version of [`MANIFEST_FILE`]; a reader refuses another one.
pub const MANIFEST_FORMAT: u32 = 1;

/// One generated trigger and the test class that runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedTrigger {
    /// The object's API name, e.g. `Account`.
    pub object: String,
    /// The trigger's name, e.g. `SfhooksAccountTrigger`.
    pub trigger: String,
    /// The test class with a method that runs it.
    pub tested_by: String,
}

/// What a generated tree contains. The manifest file itself is not in [`Manifest::files`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The prefix of every generated name.
    pub prefix: String,
    /// The API version of the generated metadata, e.g. `63.0`.
    pub api_version: String,
    /// How the generated Apex signs deliveries.
    pub signature_scheme: SignatureScheme,
    /// The generated test classes (classes with test methods), sorted.
    pub test_classes: Vec<String>,
    /// The generated triggers, sorted by trigger name.
    pub triggers: Vec<GeneratedTrigger>,
    /// Every generated file (path relative to the source folder, `/`-separated) -> the
    /// Metadata API type of the component it belongs to (`ApexClass`, `CustomField`).
    pub files: BTreeMap<String, String>,
}

/// The rendered files of a tree and its manifest.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Every rendered file, without the manifest file: what the package is built from.
    pub files: SourceTree,
    /// What the files are.
    pub manifest: Manifest,
}

impl Generated {
    /// The tree `sfhooks generate` writes: the files plus [`MANIFEST_FILE`].
    pub fn into_source_tree(self) -> SourceTree {
        let mut files = self.files;
        files.insert(MANIFEST_FILE.to_string(), self.manifest.to_json());
        files
    }
}

/// The manifest of a tree could not be read or does not fit the tree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The folder has no manifest file.
    #[error(
        "{} has no {MANIFEST_FILE}: the tree was not written by this version of \
         `sfhooks generate`; regenerate it with `sfhooks generate --out DIR`",
        .dir.display()
    )]
    Missing {
        /// The folder.
        dir: PathBuf,
    },
    /// The manifest file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The manifest file is not the JSON sfhooks writes.
    #[error(
        "{}: not a manifest written by `sfhooks generate` ({message}); regenerate the tree \
         with `sfhooks generate --out DIR`",
        .path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        message: String,
    },
    /// The manifest has another layout version.
    #[error(
        "{}: manifest format {found}, this sfhooks reads format {MANIFEST_FORMAT}; \
         regenerate the tree with this version of `sfhooks generate`",
        .path.display()
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u32,
    },
    /// The manifest says one thing, the files another.
    #[error(
        "{MANIFEST_FILE} says {what} {in_manifest}, the files say {in_tree}: the manifest was \
         edited or belongs to another tree; regenerate the tree with `sfhooks generate`"
    )]
    Disagrees {
        /// What differs (`prefix`, `API version`).
        what: &'static str,
        /// The manifest's value.
        in_manifest: String,
        /// The tree's value.
        in_tree: String,
    },
}

impl Manifest {
    /// The manifest as `sfhooks generate` writes it: pretty JSON, two-space indent, a final
    /// line break. Deterministic: every list is sorted.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and lists cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads `DIR/.sfhooks-manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing {
                    dir: dir.to_path_buf(),
                })
            }
            Err(source) => return Err(ManifestError::Io { path, source }),
        };
        Manifest::parse(&path, &text)
    }

    /// Parses a manifest's text; `path` is for the messages.
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        let malformed = |e: serde_json::Error| ManifestError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let version: Version = serde_json::from_str(text).map_err(malformed)?;
        if version.format != MANIFEST_FORMAT {
            return Err(ManifestError::Format {
                path: path.to_path_buf(),
                found: version.format,
            });
        }
        serde_json::from_str(text).map_err(malformed)
    }

    /// Checks that the manifest describes a tree with this prefix and API version (read from
    /// the files themselves).
    pub fn check_matches(&self, prefix: &str, api_version: &str) -> Result<(), ManifestError> {
        for (what, in_manifest, in_tree) in [
            ("prefix", &self.prefix, prefix),
            ("API version", &self.api_version, api_version),
        ] {
            if in_manifest != in_tree {
                return Err(ManifestError::Disagrees {
                    what,
                    in_manifest: in_manifest.clone(),
                    in_tree: in_tree.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The files the manifest lists that `tree` lacks, in the manifest's order.
    pub fn missing_from(&self, tree: &SourceTree) -> Vec<String> {
        self.files
            .keys()
            .filter(|path| !tree.contains_key(*path))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            prefix: "Sfhooks".into(),
            api_version: "63.0".into(),
            signature_scheme: SignatureScheme::Elements,
            test_classes: vec!["SfhooksTriggersTests".into()],
            triggers: vec![GeneratedTrigger {
                object: "Account".into(),
                trigger: "SfhooksAccountTrigger".into(),
                tested_by: "SfhooksTriggersTests".into(),
            }],
            files: BTreeMap::from([(
                "triggers/SfhooksAccountTrigger.trigger".to_string(),
                "ApexTrigger".to_string(),
            )]),
        }
    }

    #[test]
    fn the_json_reads_back_as_written() {
        let manifest = sample();
        let text = manifest.to_json();
        assert!(
            text.contains("\"signature_scheme\": \"elements\""),
            "{text}"
        );
        assert!(
            text.contains("\"triggers/SfhooksAccountTrigger.trigger\": \"ApexTrigger\""),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
        assert_eq!(
            Manifest::parse(Path::new("m.json"), &text).expect("parses"),
            manifest
        );
    }

    #[test]
    fn another_format_or_bad_json_is_refused_with_the_fix() {
        let other = sample().to_json().replace("\"format\": 1", "\"format\": 2");
        let err = Manifest::parse(Path::new("m.json"), &other).expect_err("format 2");
        assert!(err.to_string().contains("format 2"), "{err}");
        let err = Manifest::parse(Path::new("m.json"), "{").expect_err("bad json");
        assert!(err.to_string().contains("sfhooks generate --out"), "{err}");
    }

    #[test]
    fn a_manifest_of_another_tree_is_refused() {
        let manifest = sample();
        assert!(manifest.check_matches("Sfhooks", "63.0").is_ok());
        let err = manifest.check_matches("Acme", "63.0").expect_err("prefix");
        assert!(err.to_string().contains("prefix Sfhooks"), "{err}");
        let err = manifest.check_matches("Sfhooks", "62.0").expect_err("ver");
        assert!(err.to_string().contains("API version 63.0"), "{err}");
    }

    #[test]
    fn missing_files_are_listed_in_order() {
        let manifest = sample();
        assert_eq!(
            manifest.missing_from(&SourceTree::new()),
            vec!["triggers/SfhooksAccountTrigger.trigger".to_string()]
        );
        let mut tree = SourceTree::new();
        tree.insert(
            "triggers/SfhooksAccountTrigger.trigger".into(),
            String::new(),
        );
        assert!(manifest.missing_from(&tree).is_empty());
    }
}
