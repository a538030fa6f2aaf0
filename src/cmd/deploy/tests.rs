//! Unit tests of the parent module.
use super::plan::{inspect_zip, job_id_arg};
use super::*;
use sfhooks::salesforce::metadata::DeployStatus;

/// A zip sfhooks cannot deploy is bad input, exit 2 (what is read from a zip is tested in
/// `sfhooks::package`).
#[test]
fn package_xml_is_required_and_a_bad_zip_is_a_usage_error() {
    let empty = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()))
        .finish()
        .unwrap()
        .into_inner();
    let err = inspect_zip(&empty).unwrap_err();
    assert_eq!(exit::code_for(&err), exit::USAGE);
    assert!(err.to_string().contains("no package.xml"), "{err}");
    let err = inspect_zip(b"not a zip").unwrap_err();
    assert_eq!(exit::code_for(&err), exit::USAGE);
}

#[test]
fn job_ids_must_look_like_salesforce_ids() {
    assert!(job_id_arg("--report", "0Af5g00000ABCDEFGH").is_ok());
    assert!(job_id_arg("--report", "0Af5g00000ABCDE").is_ok());
    for bad in ["", "0Af", "0Af5g00000ABCDEFG!", "0Af5g00000ABCDEFGHIJ"] {
        let err = job_id_arg("--quick", bad).unwrap_err();
        assert_eq!(exit::code_for(&err), exit::USAGE, "{bad}");
    }
}

/// When each `checkDeployStatus` goes out, in seconds after the deploy started, for a job
/// that runs `for_secs` (the poll that sees it done included).
fn poll_times(timing: &Timing, for_secs: f64) -> Vec<f64> {
    let mut times = vec![0.0];
    let mut delay = timing.first_poll;
    while *times.last().unwrap() < for_secs {
        times.push(times.last().unwrap() + delay.as_secs_f64());
        delay = timing.next_delay(delay);
    }
    times
}

#[test]
fn polling_notices_a_short_job_within_a_second_and_spares_a_long_one() {
    let timing = Timing::with_base(500);
    // Polls at 0, 0.5 and 1.25 s: a job done within its first second is seen by 1.25 s.
    assert_eq!(poll_times(&timing, 1.0), vec![0.0, 0.5, 1.25]);
    // The pause grows to 12 s and stays there: five polls a minute on a long job.
    assert_eq!(timing.max_poll, Duration::from_secs(12));
    let hour_long = poll_times(&timing, 3600.0);
    assert!(hour_long.len() < 3600 / 12 + 15, "{}", hour_long.len());
    let gaps: Vec<f64> = hour_long.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g <= 12.0), "{gaps:?}");
    assert!(gaps.windows(2).all(|g| g[0] <= g[1]), "{gaps:?}");
    // Retries of a failed call wait 1 s, 2 s, 4 s, 8 s: bounded at 5 tries.
    assert_eq!(timing.retry.tries, 5);
    assert_eq!(timing.retry.first_delay, Duration::from_secs(1));
}

#[test]
fn parsed_arguments_never_show_the_token_or_auth_url() {
    use clap::Parser as _;
    let cli = crate::cli::Cli::try_parse_from([
        "sfhooks",
        "deploy",
        "--sandbox",
        "--access-token",
        "00DSECRET!token",
        "--instance-url",
        "https://acme.my.salesforce.com",
        "--sfdx-auth-url",
        "force://id:SECRET2:SECRET3@acme.my.salesforce.com",
    ])
    .unwrap();
    let debug = format!("{cli:?}");
    assert!(!debug.contains("SECRET"), "{debug}");
    let crate::cli::Command::Deploy(args) = cli.command else {
        panic!("not deploy")
    };
    assert_eq!(
        args.credentials
            .access_token
            .as_ref()
            .map(|t| t.expose().as_str()),
        Some("00DSECRET!token")
    );
}

#[test]
fn verdict_codes_follow_the_salesforce_cli() {
    // DeployResult is the library's non-exhaustive type: set its fields on a default one.
    let with = |status: DeployStatus, success: bool| {
        let mut result = DeployResult::default();
        result.status = status;
        result.success = success;
        result.done = true;
        result
    };
    assert_eq!(verdict_code(&with(DeployStatus::Succeeded, true)), 0);
    assert_eq!(
        verdict_code(&with(DeployStatus::SucceededPartial, true)),
        68
    );
    assert_eq!(verdict_code(&with(DeployStatus::Failed, false)), 1);
    assert_eq!(verdict_code(&with(DeployStatus::Canceled, false)), 1);
}
