//! The first step of `sfhooks deploy`: the flags become a [`Plan`] (what to start, with which
//! options). Every usage error is found here, before any network call.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::DeployArgs;
use crate::exit::{self, Hinted, UsageError};
use crate::secret_flags::SecretFlags;
use sfhooks::mdapi::PackageKind;
use sfhooks::package::{self as sfhooks_package, Package, ZipContents};
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

    // A zip built here is described by its manifest; only a foreign --zip is read.
    let (zip, contents) = match &args.zip {
        Some(path) => {
            let zip = read_zip(path)?;
            let contents = inspect_zip(&zip)?;
            (zip, contents)
        }
        None => {
            let package = build_package(args).context("cannot build the package to deploy")?;
            let contents = package.contents();
            (package.bytes, contents)
        }
    };
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

/// Builds the zip from the configuration inputs, with the same secret rules as `sfhooks package`.
fn build_package(args: &DeployArgs) -> anyhow::Result<Package> {
    let config = sfhooks::config::load(&args.input.overrides())?;
    config.require_vendor(sfhooks::config::VendorType::Webhooks, "sfhooks deploy")?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let kind = if args.uninstall {
        PackageKind::Uninstall
    } else {
        PackageKind::Deploy
    };
    let secret = SecretFlags {
        file: args.secret_file.as_deref(),
        no_secret: args.no_secret,
    }
    .for_config(&config, kind)?;
    Ok(sfhooks_package::build_from_config(&config, secret, kind)?)
}

/// Reads a `--zip`: package.xml's place and the test classes (a bad zip is bad input).
pub(super) fn inspect_zip(bytes: &[u8]) -> anyhow::Result<ZipContents> {
    ZipContents::read(bytes).map_err(|e| UsageError::new(e.to_string()).into())
}
