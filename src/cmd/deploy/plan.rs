//! The first step of `sfhooks deploy`: the flags become a [`Plan`] (what to start, with which
//! options). Every usage error is found here, before any network call.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::DeployArgs;
use crate::exit::{self, Hinted, UsageError};
use sfhooks::salesforce::metadata::{DeployOptions, TestLevel};

/// Production or sandbox: decides the login host, the JWT audience and the test rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Sandbox,
    Production,
    /// `--report` without `--sandbox`/`--production`: polls only; logs in like production.
    Unspecified,
}

impl Target {
    pub(super) fn flag(self) -> &'static str {
        match self {
            Target::Sandbox => " --sandbox",
            Target::Production => " --production",
            Target::Unspecified => "",
        }
    }
}

/// What this run starts.
#[derive(Debug)]
pub(super) enum Job {
    Deploy {
        zip: Vec<u8>,
        options: DeployOptions,
    },
    Quick {
        validation_id: String,
    },
    Report {
        job_id: String,
    },
}

#[derive(Debug)]
pub(super) struct Plan {
    pub(super) target: Target,
    pub(super) job: Job,
    pub(super) wait: Duration,
}

/// Checks the flags and builds everything that does not need the network.
pub(super) fn plan(args: &DeployArgs) -> anyhow::Result<Plan> {
    let target = match (args.sandbox, args.production) {
        (true, _) => Target::Sandbox,
        (_, true) => Target::Production,
        _ => Target::Unspecified,
    };
    let wait = Duration::from_secs(args.wait.saturating_mul(60));
    let level = args
        .test_level
        .as_deref()
        .map(str::parse::<TestLevel>)
        .transpose()
        .map_err(|e| UsageError::new(e.to_string()))?;
    if let Some(job_id) = &args.report {
        return Ok(Plan {
            target,
            job: Job::Report {
                job_id: job_id_arg("--report", job_id)?,
            },
            wait,
        });
    }
    if let Some(validation_id) = &args.quick {
        return Ok(Plan {
            target,
            job: Job::Quick {
                validation_id: job_id_arg("--quick", validation_id)?,
            },
            wait,
        });
    }
    if target == Target::Production && args.uninstall {
        if let Some(level) = level {
            return Err(UsageError::new(format!(
                "--test-level {level} is refused with --production --uninstall: the uninstall \
                 package deletes the generated tests too, so Salesforce runs the org's local tests \
                 (RunLocalTests); leave --test-level out"
            ))
            .into());
        }
    }
    if target == Target::Production {
        if let Some(level) = level.filter(|l| *l != TestLevel::RunSpecifiedTests) {
            return Err(UsageError::new(format!(
                "--test-level {level} is refused with --production: production deploys run exactly \
                 the generated tests (RunSpecifiedTests), so an unrelated failing test cannot block \
                 them and untested Apex cannot reach production"
            ))
            .into());
        }
    }
    if args.validate_only && target != Target::Production {
        return Err(UsageError::new(
            "--validate-only is for --production: a sandbox deploy can simply be run again",
        )
        .into());
    }

    let zip = match &args.zip {
        Some(path) => read_zip(path)?,
        None => crate::cmd::package::build_for_deploy(
            &args.input,
            args.secret_file.as_deref(),
            args.no_secret,
            args.uninstall,
        )
        .context("cannot build the package to deploy")?,
    };
    let contents = ZipContents::read(&zip)?;
    let mut options = DeployOptions {
        single_package: contents.single_package,
        // Production requires it (Metadata API Developer Guide, "DeployOptions": rollbackOnError
        // "must be set to true" for production); in a sandbox a half-applied package is worse
        // than none.
        rollback_on_error: true,
        check_only: args.validate_only,
        ..DeployOptions::default()
    };
    match target {
        Target::Production if args.uninstall => {
            // The uninstall package deletes the generated tests along with everything else, so
            // there are none left to name. Salesforce runs tests when Apex is removed from
            // production; RunLocalTests is its own default for that.
            options.test_level = TestLevel::RunLocalTests;
        }
        Target::Production => {
            if contents.test_classes.is_empty() {
                return Err(Hinted {
                    message: "the package has no test class (classes/<Name>.cls containing \
                              @IsTest), and production deploys run exactly the package's tests"
                        .into(),
                    hint: "deploy the package built by `sfhooks package` (it includes the \
                           generated tests); for the uninstall package pass --uninstall"
                        .into(),
                    code: exit::USAGE,
                }
                .into());
            }
            options.test_level = TestLevel::RunSpecifiedTests;
            options.run_tests = contents.test_classes.clone();
        }
        Target::Sandbox | Target::Unspecified => {
            options.test_level = level.unwrap_or(TestLevel::NoTestRun);
            if options.test_level == TestLevel::RunSpecifiedTests {
                if contents.test_classes.is_empty() {
                    return Err(UsageError::new(
                        "--test-level RunSpecifiedTests needs test classes, and the package has \
                         none (classes/<Name>.cls containing @IsTest)",
                    )
                    .into());
                }
                options.run_tests = contents.test_classes.clone();
            }
        }
    }
    Ok(Plan {
        target,
        job: Job::Deploy { zip, options },
        wait,
    })
}

/// A job id from the command line: 15 or 18 letters and digits (Salesforce ids).
pub(super) fn job_id_arg(flag: &str, id: &str) -> anyhow::Result<String> {
    let id = id.trim();
    if (id.len() == 15 || id.len() == 18) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(id.to_string())
    } else {
        Err(UsageError::new(format!(
            "{flag} {id:?} is not a Salesforce id: expected 15 or 18 letters and digits, like \
             0Af5g00000ABCDEFGH"
        ))
        .into())
    }
}

fn read_zip(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| UsageError::new(format!("cannot read --zip {}: {e}", path.display())))?;
    Ok(bytes)
}

/// What the deploy needs to know about a zip: where package.xml is, and the test classes.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ZipContents {
    /// package.xml at the root (rather than in one top folder).
    pub(super) single_package: bool,
    /// Names of `classes/<Name>.cls` that are test classes with test methods, sorted.
    pub(super) test_classes: Vec<String>,
}

impl ZipContents {
    /// Reads the zip. The test classes come from the zip itself, so a `--zip` and a package
    /// built in memory get the same treatment.
    pub(super) fn read(bytes: &[u8]) -> anyhow::Result<Self> {
        let bad_zip = |e: &dyn std::fmt::Display| {
            UsageError::new(format!("the package is not a readable zip: {e}"))
        };
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
            return Err(UsageError::new(
                "the package has no package.xml: a Metadata API zip needs one at its root \
                 (build it with `sfhooks package`)",
            )
            .into());
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
/// `SfhooksTestSupport`) has no test to run, so it is not named in `runTests`; `sfhooks package`
/// names the same classes (`*Tests`).
fn is_test_class(source: &str) -> bool {
    // Comments and strings are dropped, so `// @IsTest` or `'@IsTest'` is not an annotation.
    let code = sfhooks::apex::split_literals(source).0.to_ascii_lowercase();
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
