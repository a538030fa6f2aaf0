//! The `[poll]` table of sfhooks.toml and its `[[poll.orgs]]`, validated.
//!
//! Paths are relative to the config file. Credentials are named here, never held: an org names a
//! file (`sfdx_auth_url_file`), an environment variable (`access_token_env`) or a key file (JWT);
//! `sfhooks poll` reads them when it connects, so sfhooks.toml can be committed.
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::duration::parse_duration;
use super::{invalid, validate_callback_url, ConfigError};
use crate::naming::{self, ObjectName};

/// Default state file, beside the config file.
pub const DEFAULT_STATE_FILE: &str = "sfhooks-poll.db";
/// At most this many events per delivery (as the Apex's 200-record chunks).
pub const MAX_EVENTS_LIMIT: usize = 200;
/// The org name used when no `[[poll.orgs]]` are configured: the credential flags' org.
pub const DEFAULT_ORG_NAME: &str = "default";

/// `[poll]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PollFile {
    state: Option<PathBuf>,
    interval: Option<String>,
    lookback: Option<String>,
    settle: Option<String>,
    max_events: Option<usize>,
    api_threshold: Option<u8>,
    concurrency: Option<usize>,
    retry_delay: Option<String>,
    retry_for: Option<String>,
    retention: Option<String>,
    #[serde(default)]
    orgs: Vec<OrgFile>,
}

/// `[[poll.orgs]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgFile {
    name: String,
    sfdx_auth_url_file: Option<PathBuf>,
    instance_url: Option<String>,
    access_token_env: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    jwt_key_file: Option<PathBuf>,
    login_url: Option<String>,
    #[serde(default)]
    sandbox: bool,
    objects: Option<Vec<String>>,
    callback_url: Option<String>,
    secret_file: Option<PathBuf>,
    previous_secret_file: Option<PathBuf>,
}

/// How an org of `[[poll.orgs]]` signs in. Nothing secret is held: only where to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgLogin {
    /// The credential flags of the command line (`--access-token`, `--sfdx-auth-url`, JWT).
    Flags,
    /// A file holding one SFDX auth URL (`force://...`).
    SfdxAuthUrlFile(PathBuf),
    /// An access token in an environment variable, for this instance.
    AccessTokenEnv {
        /// The instance URL.
        instance_url: String,
        /// The variable's name.
        env: String,
    },
    /// The JWT bearer flow.
    Jwt {
        /// Connected app consumer key.
        client_id: String,
        /// The user.
        username: String,
        /// PEM RSA private key.
        key_file: PathBuf,
        /// Login URL (My Domain), else by `sandbox`.
        login_url: Option<String>,
        /// A sandbox (JWT audience test.salesforce.com).
        sandbox: bool,
    },
}

/// One org the poller serves.
#[derive(Debug, Clone)]
pub struct OrgSpec {
    /// Its name in sfhooks.toml, logs and the state.
    pub name: String,
    /// How it signs in.
    pub login: OrgLogin,
    /// Its own objects (names only; their fields come from `[objects_config]`), else the top level's.
    pub objects: Option<Vec<ObjectName>>,
    /// Its own callback URL, else the top level's.
    pub callback_url: Option<url::Url>,
    /// Its own signing secret file, else `--secret-file` / `$SFHOOKS_SECRET`.
    pub secret_file: Option<PathBuf>,
    /// The previous secret during a rotation: deliveries carry two signatures.
    pub previous_secret_file: Option<PathBuf>,
}

/// The validated `[poll]` settings (flags may still override them in the command).
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// The SQLite state file.
    pub state: PathBuf,
    /// Time between two cycles of an org; `None`: the instance's refresh interval, else 5 min.
    pub interval: Option<Duration>,
    /// How far before the cursor each window starts again (late commits).
    pub lookback: Duration,
    /// How far behind the org's clock each window ends.
    pub settle: Duration,
    /// Events per delivery, 1 to 200.
    pub max_events: usize,
    /// Percent of the daily API limit above which an org is paused.
    pub api_threshold: u8,
    /// Requests in flight at once, across every org.
    pub concurrency: usize,
    /// First retry delay of a failed delivery (doubles, at most an hour).
    pub retry_delay: Duration,
    /// How long a delivery is retried before it is dead.
    pub retry_for: Duration,
    /// How long delivered rows and record memories are kept.
    pub retention: Duration,
    /// The orgs; empty: one org from the credential flags.
    pub orgs: Vec<OrgSpec>,
}

impl PollConfig {
    /// The defaults of an absent `[poll]` table, the state in the working directory.
    pub fn defaults() -> PollConfig {
        validate_poll(None, Path::new(""), false).expect("the defaults are valid")
    }
}

fn duration(what: &str, value: Option<String>, default: Duration) -> Result<Duration, ConfigError> {
    match value {
        Some(v) => parse_duration(what, &v).map_err(|e| invalid(e.to_string())),
        None => Ok(default),
    }
}

/// Validates `[poll]`; `base` is the folder of the config file (relative paths).
pub(super) fn validate_poll(
    file: Option<PollFile>,
    base: &Path,
    allow_http: bool,
) -> Result<PollConfig, ConfigError> {
    let file = file.unwrap_or_default();
    let state = base.join(
        file.state
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_FILE)),
    );
    let interval = match file.interval {
        Some(v) => Some(parse_duration("poll.interval", &v).map_err(|e| invalid(e.to_string()))?),
        None => None,
    };
    let max_events = file.max_events.unwrap_or(MAX_EVENTS_LIMIT);
    if !(1..=MAX_EVENTS_LIMIT).contains(&max_events) {
        return Err(invalid(format!(
            "poll.max_events is {max_events}: a delivery carries 1 to {MAX_EVENTS_LIMIT} events"
        )));
    }
    let api_threshold = file.api_threshold.unwrap_or(80);
    if !(1..=100).contains(&api_threshold) {
        return Err(invalid(format!(
            "poll.api_threshold is {api_threshold}: a percent of the daily API limit, 1 to 100"
        )));
    }
    let concurrency = file.concurrency.unwrap_or(8);
    if !(1..=256).contains(&concurrency) {
        return Err(invalid(format!(
            "poll.concurrency is {concurrency}: requests in flight at once, 1 to 256"
        )));
    }
    let mut names = HashSet::new();
    let mut orgs = Vec::with_capacity(file.orgs.len());
    for org in file.orgs {
        let spec = validate_org(org, base, allow_http)?;
        if !names.insert(spec.name.to_ascii_lowercase()) {
            return Err(invalid(format!(
                "two [[poll.orgs]] are named {:?}: each org needs its own name (it keys the state)",
                spec.name
            )));
        }
        orgs.push(spec);
    }
    Ok(PollConfig {
        state,
        interval,
        lookback: duration("poll.lookback", file.lookback, Duration::from_secs(600))?,
        settle: duration("poll.settle", file.settle, Duration::from_secs(60))?,
        max_events,
        api_threshold,
        concurrency,
        retry_delay: duration(
            "poll.retry_delay",
            file.retry_delay,
            Duration::from_secs(60),
        )?,
        retry_for: duration(
            "poll.retry_for",
            file.retry_for,
            Duration::from_secs(86_400),
        )?,
        retention: duration(
            "poll.retention",
            file.retention,
            Duration::from_secs(15 * 86_400),
        )?,
        orgs,
    })
}

/// An org name: letters, digits, `-`, `_` and `.`, at most 64, so it is safe in logs and subjects.
fn validate_org_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "[[poll.orgs]] name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

fn validate_org(org: OrgFile, base: &Path, allow_http: bool) -> Result<OrgSpec, ConfigError> {
    validate_org_name(&org.name)?;
    let name = org.name;
    let jwt_given = org.client_id.is_some() || org.username.is_some() || org.jwt_key_file.is_some();
    let ways = [
        org.sfdx_auth_url_file.is_some(),
        org.access_token_env.is_some() || org.instance_url.is_some(),
        jwt_given,
    ];
    let login = match ways.iter().filter(|w| **w).count() {
        0 => {
            return Err(invalid(format!(
                "[[poll.orgs]] {name:?} has no credentials: set sfdx_auth_url_file, or \
                 instance_url with access_token_env, or client_id, username and jwt_key_file"
            )))
        }
        1 => {
            if let Some(file) = org.sfdx_auth_url_file {
                OrgLogin::SfdxAuthUrlFile(base.join(file))
            } else if jwt_given {
                match (org.client_id, org.username, org.jwt_key_file) {
                    (Some(client_id), Some(username), Some(key_file)) => OrgLogin::Jwt {
                        client_id,
                        username,
                        key_file: base.join(key_file),
                        login_url: org.login_url,
                        sandbox: org.sandbox,
                    },
                    _ => {
                        return Err(invalid(format!(
                            "[[poll.orgs]] {name:?}: the JWT bearer flow needs client_id, \
                             username and jwt_key_file together"
                        )))
                    }
                }
            } else {
                match (org.instance_url, org.access_token_env) {
                    (Some(instance_url), Some(env)) => {
                        OrgLogin::AccessTokenEnv { instance_url, env }
                    }
                    _ => {
                        return Err(invalid(format!(
                            "[[poll.orgs]] {name:?}: an access token needs instance_url and \
                             access_token_env (the name of the variable holding the token) together"
                        )))
                    }
                }
            }
        }
        _ => {
            return Err(invalid(format!(
                "[[poll.orgs]] {name:?} names more than one way to sign in: keep one of \
                 sfdx_auth_url_file, instance_url + access_token_env, or the JWT keys"
            )))
        }
    };
    let objects = match org.objects {
        Some(list) => {
            let mut objects = Vec::with_capacity(list.len());
            for o in &list {
                objects.push(naming::parse_object_name(o.trim())?);
            }
            naming::check_duplicates(list.iter().map(|s| s.trim()))?;
            if objects.is_empty() {
                return Err(invalid(format!(
                    "[[poll.orgs]] {name:?} has an empty objects list; remove it to poll the top-level objects"
                )));
            }
            Some(objects)
        }
        None => None,
    };
    let callback_url = match org.callback_url {
        Some(url) => Some(validate_callback_url(url.trim(), allow_http)?),
        None => None,
    };
    Ok(OrgSpec {
        name,
        login,
        objects,
        callback_url,
        secret_file: org.secret_file.map(|f| base.join(f)),
        previous_secret_file: org.previous_secret_file.map(|f| base.join(f)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<PollConfig, ConfigError> {
        #[derive(Deserialize)]
        struct Wrap {
            poll: Option<PollFile>,
        }
        let w: Wrap = toml::from_str(toml_text).expect("test TOML parses");
        validate_poll(w.poll, Path::new("/etc/sfhooks"), false)
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = parse("").unwrap();
        assert_eq!(c.state, Path::new("/etc/sfhooks/sfhooks-poll.db"));
        assert_eq!(c.lookback, Duration::from_secs(600));
        assert_eq!(c.settle, Duration::from_secs(60));
        assert_eq!((c.max_events, c.api_threshold, c.concurrency), (200, 80, 8));
        assert!(c.orgs.is_empty() && c.interval.is_none());
        let c = parse(
            "[poll]\nstate = \"s/poll.db\"\ninterval = \"90s\"\n[[poll.orgs]]\nname = \"acme\"\n\
             sfdx_auth_url_file = \"acme.auth\"\nsecret_file = \"acme.secret\"\n",
        )
        .unwrap();
        assert_eq!(c.state, Path::new("/etc/sfhooks/s/poll.db"));
        assert_eq!(c.interval, Some(Duration::from_secs(90)));
        assert_eq!(
            c.orgs[0].login,
            OrgLogin::SfdxAuthUrlFile("/etc/sfhooks/acme.auth".into())
        );
        assert_eq!(
            c.orgs[0].secret_file.as_deref(),
            Some(Path::new("/etc/sfhooks/acme.secret"))
        );
    }

    #[test]
    fn bad_settings_name_the_setting_and_the_fix() {
        let cases = [
            ("[poll]\ninterval = \"5x\"", "poll.interval \"5x\" is not a duration"),
            ("[poll]\nmax_events = 500", "1 to 200 events"),
            ("[poll]\napi_threshold = 0", "1 to 100"),
            ("[[poll.orgs]]\nname = \"a\"\nsfdx_auth_url_file = \"x\"\n[[poll.orgs]]\nname = \"A\"\nsfdx_auth_url_file = \"y\"", "two [[poll.orgs]] are named \"A\""),
            ("[[poll.orgs]]\nname = \"a\"", "has no credentials"),
            ("[[poll.orgs]]\nname = \"a b\"\nsfdx_auth_url_file = \"x\"", "letters, digits"),
            ("[[poll.orgs]]\nname = \"a\"\ninstance_url = \"https://x\"", "access_token_env"),
            ("[[poll.orgs]]\nname = \"a\"\nclient_id = \"x\"", "client_id, username and jwt_key_file together"),
            ("[[poll.orgs]]\nname = \"a\"\nsfdx_auth_url_file = \"x\"\ninstance_url = \"https://x\"\naccess_token_env = \"T\"", "more than one way"),
            ("[[poll.orgs]]\nname = \"a\"\nsfdx_auth_url_file = \"x\"\ncallback_url = \"http://x\"", "is http"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}\n-> {err}");
        }
    }
}
