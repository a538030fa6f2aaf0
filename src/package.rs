//! The Metadata API zip that `sfhooks package` writes and `sfhooks deploy` sends.
//!
//! A zip sfhooks builds is described by the [`Manifest`] of the tree it was built from (its test
//! classes come from there); only a zip sfhooks did not build in this run (`deploy --zip`) is
//! inspected by reading it, here in [`ZipContents::read`] and nowhere else.
use std::io::Read as _;

use crate::config::Config;
use crate::generated::Generated;
#[cfg(doc)]
use crate::generated::Manifest;
use crate::mdapi::{self, MdapiError, PackageKind, SecretRecord};
use crate::redacted::Redacted;

/// A built zip and what it holds.
#[derive(Debug)]
pub struct Package {
    /// The zip's bytes.
    pub bytes: Vec<u8>,
    /// Which zip it is.
    pub kind: PackageKind,
    /// The test classes of the tree it was built from, sorted (an uninstall zip deletes them).
    pub test_classes: Vec<String>,
    /// It holds the settings record with the signing secret.
    pub has_secret_record: bool,
}

impl Package {
    /// What a deploy needs to know about the zip, from its manifest: package.xml is at the
    /// root, and the test classes it ships (none in an uninstall zip).
    pub fn contents(&self) -> ZipContents {
        ZipContents {
            single_package: true,
            test_classes: match self.kind {
                PackageKind::Uninstall => Vec::new(),
                _ => self.test_classes.clone(),
            },
        }
    }
}

/// Builds the zip of a generated tree. `secret` goes into the settings record of a
/// [`PackageKind::Deploy`] zip (`None`: no record); an uninstall zip takes none.
pub fn build(
    generated: &Generated,
    secret: Option<Redacted<String>>,
    kind: PackageKind,
) -> Result<Package, MdapiError> {
    let Generated { files, manifest } = generated;
    let record = match kind {
        PackageKind::Uninstall => None,
        _ => {
            let settings = mdapi::settings_object(files)?;
            secret.map(|value| SecretRecord::new(&settings, value))
        }
    };
    let bytes = mdapi::build_zip(files, &manifest.api_version, record.as_ref(), kind)?;
    Ok(Package {
        bytes,
        kind,
        test_classes: manifest.test_classes.clone(),
        has_secret_record: record.is_some(),
    })
}

/// Renders a configuration and builds its zip (what `sfhooks package` and `sfhooks deploy` do
/// without `--from`/`--zip`). The tree comes from sfhooks' own templates, so any failure here is
/// a bug in sfhooks, and the error says so.
pub fn build_from_config(
    config: &Config,
    secret: Option<Redacted<String>>,
    kind: PackageKind,
) -> Result<Package, BuildError> {
    let generated = crate::render::generate(config)?;
    Ok(build(&generated, secret, kind)?)
}

/// The generated tree could not be packaged: always a bug in sfhooks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    /// The rendered tree did not convert.
    #[error("cannot package the generated tree (a bug in sfhooks, please report it): {0}")]
    Tree(#[from] MdapiError),
}

/// Checks a tree read from disk against its manifest: the prefix and API version its files
/// carry are the manifest's, and every file the manifest lists is there (a file deleted in
/// review would otherwise deploy without it).
pub fn check_tree(
    generated: &Generated,
    prefix: &str,
    api_version: &str,
) -> Result<(), TreeCheckError> {
    generated.manifest.check_matches(prefix, api_version)?;
    let missing = generated.manifest.missing_from(&generated.files);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MdapiError::MissingFiles(missing).into())
    }
}

/// A tree on disk does not fit its manifest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeCheckError {
    /// The manifest is of another tree.
    #[error(transparent)]
    Manifest(#[from] crate::generated::ManifestError),
    /// Files are missing.
    #[error(transparent)]
    Tree(#[from] MdapiError),
}

/// What a deploy needs to know about a zip: where package.xml is, and the test classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipContents {
    /// package.xml at the root (rather than in one top folder).
    pub single_package: bool,
    /// Names of `classes/<Name>.cls` that are test classes with test methods, sorted.
    pub test_classes: Vec<String>,
}

/// A zip that cannot be deployed as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZipError {
    /// Not a zip, or an entry cannot be read.
    #[error("the package is not a readable zip: {0}")]
    Unreadable(String),
    /// No package.xml at the root or in one top folder.
    #[error(
        "the package has no package.xml: a Metadata API zip needs one at its root \
         (build it with `sfhooks package`)"
    )]
    NoPackageXml,
}

impl ZipContents {
    /// Reads a zip sfhooks did not build in this run (`deploy --zip`): the test classes are the
    /// classes whose source is a test class ([`is_test_class`]).
    pub fn read(bytes: &[u8]) -> Result<Self, ZipError> {
        let bad_zip = |e: &dyn std::fmt::Display| ZipError::Unreadable(e.to_string());
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad_zip(&e))?;
        let mut single_package = false;
        let mut nested_package = false;
        let mut test_classes = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).map_err(|e| bad_zip(&e))?;
            let name = file.name().replace('\\', "/");
            let parts: Vec<&str> = name.split('/').collect();
            match parts.as_slice() {
                ["package.xml"] => single_package = true,
                [_, "package.xml"] => nested_package = true,
                _ => {}
            }
            let Some(class) = parts
                .len()
                .checked_sub(2)
                .filter(|&i| parts[i] == "classes")
                .and_then(|_| parts.last()?.strip_suffix(".cls"))
                .map(str::to_string)
            else {
                continue;
            };
            let mut source = String::new();
            file.read_to_string(&mut source)
                .map_err(|e| bad_zip(&format!("{name}: {e}")))?;
            if is_test_class(&source) {
                test_classes.push(class);
            }
        }
        if !single_package && !nested_package {
            return Err(ZipError::NoPackageXml);
        }
        test_classes.sort();
        test_classes.dedup();
        Ok(ZipContents {
            single_package,
            test_classes,
        })
    }
}

/// True when Apex source is a test class with at least one test method: `@IsTest` on the class
/// and on a method (or the old `testMethod` keyword). Apex is case-insensitive. A helper class
/// that is `@IsTest` only so that it does not count against coverage (the generated
/// `SfhooksTestSupport`) has no test to run, so it is not named in `runTests`. For a tree sfhooks
/// generates this is the manifest's [`Manifest::test_classes`] (tested below).
pub fn is_test_class(source: &str) -> bool {
    // Comments and strings are dropped, so `// @IsTest` or `'@IsTest'` is not an annotation.
    let code = crate::apex::split_literals(source).0.to_ascii_lowercase();
    let annotations = words(&code, "@istest");
    annotations >= 2 || (annotations == 1 && words(&code, "testmethod") >= 1)
}

/// How many times `word` occurs not followed by a letter, digit or `_` (`@IsTestFoo` is another
/// annotation; `@IsTest(SeeAllData=true)` is this one) and, for a plain word, not preceded by one.
fn words(code: &str, word: &str) -> usize {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(word)
        .filter(|(i, m)| {
            let after = code[i + m.len()..].chars().next();
            let before = code[..*i].chars().next_back();
            !after.is_some_and(is_ident) && (word.starts_with('@') || !before.is_some_and(is_ident))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::config::{Config, Events};
    use crate::scheme::SignatureScheme;

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(body.as_bytes()).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn config(scheme: SignatureScheme) -> Config {
        Config {
            objects: ["Contact", "Account"]
                .into_iter()
                .map(|name| crate::config::ObjectConfig {
                    name: crate::naming::parse_object_name(name).expect("valid name"),
                    fields: None,
                    watched_fields: None,
                })
                .collect(),
            callback_url: Some(url::Url::parse("https://hooks.example.com/x").expect("url")),
            events: Events {
                created: true,
                updated: true,
                deleted: true,
                undeleted: true,
            },
            vendor: None,
            refresh_interval: None,
            poll: crate::config::PollConfig::defaults(),
            api_version: "63.0".to_string(),
            prefix: "Sfhooks".to_string(),
            out_dir: std::path::PathBuf::new(),
            signature_scheme: scheme,
            signature_key: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn test_classes_are_the_zips_is_test_classes() {
        let zip = zip_of(&[
            ("package.xml", "<Package/>"),
            (
                "classes/Dispatcher.cls",
                "public class Dispatcher { @TestVisible static Integer n; }",
            ),
            ("classes/Dispatcher.cls-meta.xml", "<ApexClass/>"),
            (
                "classes/DispatcherTest.cls",
                "@isTest\nprivate class DispatcherTest { @IsTest static void a() {} }",
            ),
            (
                "classes/OutboxTest.cls",
                "@IsTest(SeeAllData=false) private class OutboxTest { static testMethod void a() {} }",
            ),
            (
                "classes/TestSupport.cls",
                "/** Helpers; see @IsTest methods elsewhere. */\n@IsTest\npublic class TestSupport {\n  \
                 // not an @IsTest method\n  public static String S = '@IsTest \\' @IsTest';\n  \
                 public static void testMethodHelper() {}\n}",
            ),
            (
                "classes/Sneaky.cls",
                "public class Sneaky { @IsTestish void m() {} }",
            ),
            (
                "triggers/T.trigger",
                "@IsTest trigger T on Contact (after insert) {}",
            ),
        ]);
        let contents = ZipContents::read(&zip).expect("reads");
        assert_eq!(
            contents,
            ZipContents {
                single_package: true,
                test_classes: vec!["DispatcherTest".into(), "OutboxTest".into()],
            }
        );
    }

    /// The manifest's test classes are exactly what reading the built zip finds, for both
    /// schemes: a `--zip` of an sfhooks package and a package built in memory run the same tests.
    #[test]
    fn the_manifest_names_the_test_classes_reading_the_zip_finds() {
        for scheme in [SignatureScheme::Standard, SignatureScheme::Elements] {
            let generated = crate::render::generate(&config(scheme)).expect("renders");
            let package = build(&generated, None, PackageKind::Deploy).expect("builds");
            assert!(!package.test_classes.is_empty());
            assert_eq!(
                ZipContents::read(&package.bytes).expect("reads"),
                package.contents()
            );
            let uninstall = build(&generated, None, PackageKind::Uninstall).expect("builds");
            assert_eq!(
                ZipContents::read(&uninstall.bytes).expect("reads"),
                uninstall.contents()
            );
            assert!(uninstall.contents().test_classes.is_empty());
        }
    }

    #[test]
    fn a_tree_missing_a_listed_file_is_incomplete() {
        let mut generated =
            crate::render::generate(&config(SignatureScheme::Standard)).expect("renders");
        assert!(check_tree(&generated, "Sfhooks", "63.0").is_ok());
        generated
            .files
            .remove("triggers/SfhooksAccountTrigger.trigger-meta.xml");
        let err = check_tree(&generated, "Sfhooks", "63.0").expect_err("incomplete");
        assert_eq!(
            err.to_string(),
            "1 file that sfhooks generates for this tree is missing: \
             triggers/SfhooksAccountTrigger.trigger-meta.xml"
        );
        let err = check_tree(&generated, "Acme", "63.0").expect_err("other prefix");
        assert!(err.to_string().contains("prefix Sfhooks"), "{err}");
    }

    #[test]
    fn package_xml_decides_single_package() {
        let nested = zip_of(&[
            ("unpackaged/package.xml", "<Package/>"),
            (
                "unpackaged/classes/ATest.cls",
                "@IsTest class ATest { @IsTest static void a() {} }",
            ),
        ]);
        let contents = ZipContents::read(&nested).expect("reads");
        assert!(!contents.single_package);
        assert_eq!(contents.test_classes, vec!["ATest".to_string()]);
        let none = zip_of(&[("classes/A.cls", "class A {}")]);
        let err = ZipContents::read(&none).expect_err("no package.xml");
        assert!(err.to_string().contains("no package.xml"), "{err}");
        let err = ZipContents::read(b"not a zip").expect_err("not a zip");
        assert!(err.to_string().contains("not a readable zip"), "{err}");
    }
}
