//! From flags and sfhooks.toml to the orgs to poll: their objects, callback URLs and signing
//! secrets (one set of secret rules, `signing_secret`), the shared settings, and the connector
//! that signs each org in (files and environment variables are read here, in the binary).
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{is_nats_url, OrgArgs, PollRunArgs};
use crate::exit::UsageError;
use sfhooks::config::duration::parse_duration;
use sfhooks::config::{self, Config, ObjectConfig, OrgLogin, OrgSpec, VendorType};
use sfhooks::forward::jetstream::JetStreamTarget;
use sfhooks::poll::deliver::{RetryRules, Signing};
use sfhooks::poll::engine::{Backfill, ConnectError, OrgJob, Settings, Since};
use sfhooks::poll::publish::PostTarget;
use sfhooks::salesforce::auth::Credentials;
use sfhooks::salesforce::rest::RestClient;
use sfhooks::scheme::SignatureScheme;
use sfhooks::signing_secret::{self, SecretSources};
use sfhooks::webhook::{ElementsKey, Secret};

/// Everything a run needs.
pub struct RunPlan {
    pub jobs: Vec<OrgJob>,
    pub logins: Vec<OrgLogin>,
    pub settings: Settings,
    pub interval: Duration,
    pub concurrency: usize,
    pub state: PathBuf,
    pub retention: Duration,
    pub api_version: String,
    pub receiver_http: reqwest::blocking::Client,
    /// `--forward-to nats://...`: deliveries go into JetStream, not to the callback URLs.
    pub jetstream: Option<JetStreamTarget>,
    /// One client for every org's REST calls (one connection pool, one runtime thread).
    pub salesforce_http: reqwest::blocking::Client,
}

fn flag_duration(
    what: &str,
    value: Option<&String>,
    default: Duration,
) -> anyhow::Result<Duration> {
    match value {
        Some(v) => Ok(parse_duration(what, v).map_err(|e| UsageError::new(e.to_string()))?),
        None => Ok(default),
    }
}

/// The state file: `--state`, else `[poll] state` (relative to sfhooks.toml).
pub fn state_path(flag: Option<&Path>, config: &Config) -> PathBuf {
    flag.map_or_else(|| config.poll.state.clone(), Path::to_path_buf)
}

/// Reads the configuration and builds the run.
pub fn plan(args: &PollRunArgs) -> anyhow::Result<RunPlan> {
    let jetstream = jetstream_of(args)?;
    let mut overrides = args.input.overrides();
    overrides.callback_url_optional = jetstream.is_some();
    let config = config::load(&overrides)?;
    config.require_vendor(VendorType::Polling, "sfhooks poll")?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    if let (Some(target), Some(url)) = (&jetstream, &config.callback_url) {
        eprintln!(
            "note: deliveries are published into JetStream at {}; the callback URL {url} and the \
             signing secret are not used",
            target.url.as_str()
        );
    }
    let poll = &config.poll;
    let specs: Vec<OrgSpec> = if poll.orgs.is_empty() {
        vec![OrgSpec {
            name: config::poll::DEFAULT_ORG_NAME.to_string(),
            login: OrgLogin::Flags,
            objects: None,
            callback_url: None,
            secret_file: None,
            previous_secret_file: None,
        }]
    } else {
        poll.orgs.clone()
    };
    let specs: Vec<OrgSpec> = match &args.org_name {
        Some(name) => {
            let found: Vec<OrgSpec> = specs.iter().filter(|s| s.name == *name).cloned().collect();
            if found.is_empty() {
                let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                return Err(UsageError::new(format!(
                    "--org {name:?} is not an org of this configuration; its orgs: {}",
                    names.join(", ")
                ))
                .into());
            }
            found
        }
        None => specs,
    };
    let mut jobs = Vec::with_capacity(specs.len());
    let mut logins = Vec::with_capacity(specs.len());
    for spec in specs {
        let post = match (
            &jetstream,
            spec.callback_url.as_ref().or(config.callback_url.as_ref()),
        ) {
            (Some(_), _) => None,
            (None, Some(url)) => Some(PostTarget {
                url: url.clone(),
                signing: signing_of(args, &config, &spec)?,
            }),
            // The configuration refuses a missing callback URL already; its one wording if not.
            (None, None) => Some(PostTarget {
                url: config.require_callback_url()?.clone(),
                signing: signing_of(args, &config, &spec)?,
            }),
        };
        jobs.push(OrgJob {
            objects: objects_of(&config, &spec),
            post,
            events: config.events,
            name: spec.name.clone(),
        });
        logins.push(spec.login);
    }
    if let Some(object) = &args.object {
        if !jobs.iter().any(|j| {
            j.objects
                .iter()
                .any(|o| o.name.api_name.eq_ignore_ascii_case(object))
        }) {
            return Err(UsageError::new(format!(
                "--object {object:?} is not polled by this configuration: add it to objects"
            ))
            .into());
        }
    }
    let max_events = args.max_events.unwrap_or(poll.max_events);
    if !(1..=config::poll::MAX_EVENTS_LIMIT).contains(&max_events) {
        return Err(UsageError::new(format!(
            "--max-events {max_events}: a delivery carries 1 to {} events",
            config::poll::MAX_EVENTS_LIMIT
        ))
        .into());
    }
    let interval = flag_duration(
        "--interval",
        args.interval.as_ref(),
        poll.interval
            .or(config.refresh_interval)
            .unwrap_or(Duration::from_secs(300)),
    )?;
    if interval < Duration::from_secs(1) && !args.once {
        return Err(UsageError::new(
            "--interval must be at least 1s (Salesforce recommends 5m or more)",
        )
        .into());
    }
    let backfill = match &args.backfill {
        Some(since) => Some(Backfill {
            since: parse_since(since)?,
            org: args.org_name.clone(),
            object: args.object.clone(),
        }),
        None => None,
    };
    let settings = Settings {
        lookback: flag_duration("--lookback", args.lookback.as_ref(), poll.lookback)?,
        settle: flag_duration("--settle", args.settle.as_ref(), poll.settle)?,
        max_events,
        api_threshold: poll.api_threshold,
        retry: RetryRules {
            first_delay: flag_duration(
                "--retry-delay",
                args.retry_delay.as_ref(),
                poll.retry_delay,
            )?,
            retry_for: poll.retry_for,
        },
        backfill,
        drain: args.once,
    };
    let receiver_http = reqwest::blocking::Client::builder()
        .user_agent(concat!("sfhooks/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(RunPlan {
        jobs,
        logins,
        settings,
        interval,
        concurrency: poll.concurrency,
        state: state_path(args.state.as_deref(), &config),
        retention: poll.retention,
        api_version: config.api_version.clone(),
        receiver_http,
        jetstream,
        salesforce_http: sfhooks::salesforce::login::http_client(Duration::from_secs(120))?,
    })
}

/// `--forward-to` and the NATS flags: a JetStream target, or none (POST to the callback URLs).
fn jetstream_of(args: &PollRunArgs) -> anyhow::Result<Option<JetStreamTarget>> {
    match args.forward_to.as_deref() {
        Some(url) if is_nats_url(url) => {
            // The poller's retries keep the webhook-id; the tolerance stands for the shortest
            // window a receiver that checks timestamps would need.
            let tolerance = Duration::from_secs(sfhooks::webhook::wire::DEFAULT_TOLERANCE_SECS);
            Ok(Some(args.nats.target(url, tolerance)?))
        }
        Some(url) => Err(UsageError::new(format!(
            "--forward-to {url:?}: sfhooks poll publishes into NATS JetStream (nats://HOST:PORT or \
             tls://HOST:PORT); deliveries to an HTTP receiver go to --callback-url"
        ))
        .into()),
        None => match args.nats.first_given() {
            Some(flag) => Err(UsageError::new(format!(
                "{flag} applies to --forward-to nats://... only, and no --forward-to was given"
            ))
            .into()),
            None => Ok(None),
        },
    }
}

fn parse_since(value: &str) -> anyhow::Result<Since> {
    if let Some(ms) = sfhooks::poll::clock::parse_ms(value.trim()) {
        return Ok(Since::At(ms));
    }
    parse_duration("--backfill", value).map(Since::Ago).map_err(|_| {
        UsageError::new(format!(
            "--backfill {value:?} is neither a time like 2026-12-01T00:00:00Z nor an age like 2h or 7d"
        ))
        .into()
    })
}

/// An org's objects: its own list (fields from `[objects_config]` when the top level has the
/// object), else the top level's.
fn objects_of(config: &Config, spec: &OrgSpec) -> Vec<ObjectConfig> {
    match &spec.objects {
        None => config.objects.clone(),
        Some(names) => names
            .iter()
            .map(|name| {
                config
                    .objects
                    .iter()
                    .find(|o| o.name.api_name == name.api_name)
                    .cloned()
                    .unwrap_or_else(|| ObjectConfig {
                        name: name.clone(),
                        fields: None,
                        watched_fields: None,
                    })
            })
            .collect(),
    }
}

/// An org's signing: its secret_file, else --secret-file, else $SFHOOKS_SECRET, else the
/// instance key; the previous secret from its previous_secret_file or --previous-secret-file.
fn signing_of(args: &PollRunArgs, config: &Config, spec: &OrgSpec) -> anyhow::Result<Signing> {
    let env = std::env::var_os(signing_secret::SECRET_ENV);
    let scheme = config.signature_scheme;
    let file = spec.secret_file.as_deref().or(args.secret_file.as_deref());
    let current = signing_secret::resolve(
        SecretSources {
            file,
            env: env.as_ref(),
            instance_key: config.signature_key.as_ref(),
            no_secret: false,
        },
        scheme,
    )
    .map_err(|e| UsageError::new(format!("org {:?}: {e}", spec.name)))?
    .ok_or_else(|| UsageError::new("no signing secret"))?;
    let previous_file = spec
        .previous_secret_file
        .as_deref()
        .or(args.previous_secret_file.as_deref());
    let previous = match previous_file {
        Some(path) => signing_secret::resolve(
            SecretSources {
                file: Some(path),
                env: None,
                instance_key: None,
                no_secret: false,
            },
            scheme,
        )
        .map_err(|e| UsageError::new(format!("org {:?}: the previous secret: {e}", spec.name)))?,
        None => None,
    };
    match scheme {
        SignatureScheme::Standard => {
            let mut secrets = vec![Secret::parse(current.expose())?];
            if let Some(p) = previous {
                secrets.push(Secret::parse(p.expose())?);
            }
            Ok(Signing::Standard(secrets))
        }
        SignatureScheme::Elements => {
            if previous.is_some() {
                return Err(UsageError::new(
                    "the elements signature scheme has one key: it cannot carry a previous secret",
                )
                .into());
            }
            Ok(Signing::Elements(ElementsKey::new(current.expose())?))
        }
    }
}

/// Signs an org in, the way `deploy` does: credentials from the flags or the org's table, a
/// session, and a REST client that renews it when it expires.
pub fn connector<'a>(
    plan: &'a RunPlan,
    flags: &'a OrgArgs,
) -> impl Fn(&OrgJob) -> Result<RestClient, ConnectError> + Sync + 'a {
    move |job: &OrgJob| {
        let index = plan
            .jobs
            .iter()
            .position(|j| j.name == job.name)
            .ok_or_else(|| ConnectError::Config(format!("unknown org {:?}", job.name)))?;
        let credentials = credentials_of(&plan.logins[index], flags, &job.name)?;
        let http = plan.salesforce_http.clone();
        let session = credentials.login(&http).map_err(|e| {
            ConnectError::Auth(format!(
                "org {:?}: authentication with Salesforce failed: {}",
                job.name,
                crate::exit::message_of(&e)
            ))
        })?;
        Ok(RestClient::new(
            http,
            session,
            Some(credentials),
            &plan.api_version,
        ))
    }
}

fn credentials_of(
    login: &OrgLogin,
    flags: &OrgArgs,
    org: &str,
) -> Result<Credentials, ConnectError> {
    let config_error = |what: String| ConnectError::Config(format!("org {org:?}: {what}"));
    let auth_error = |e: sfhooks::salesforce::auth::AuthError| config_error(e.to_string());
    match login {
        OrgLogin::Flags => {
            sfhooks::salesforce::login::resolve(&flags.credential_inputs()).map_err(|e| {
                let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
                config_error(format!("{e}{hint}"))
            })
        }
        OrgLogin::SfdxAuthUrlFile(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                config_error(format!(
                    "cannot read sfdx_auth_url_file {}: {e}",
                    path.display()
                ))
            })?;
            Credentials::from_sfdx_auth_url(text.trim()).map_err(auth_error)
        }
        OrgLogin::AccessTokenEnv { instance_url, env } => {
            let token = std::env::var(env).map_err(|_| {
                config_error(format!(
                    "${env} (its access_token_env) is not set: export the org's access token in it"
                ))
            })?;
            Credentials::access_token(instance_url, token).map_err(auth_error)
        }
        OrgLogin::Jwt {
            client_id,
            username,
            key_file,
            login_url,
            sandbox,
        } => {
            let kind = if *sandbox {
                sfhooks::salesforce::login::OrgKind::Sandbox
            } else {
                sfhooks::salesforce::login::OrgKind::Production
            };
            let audience = kind.audience();
            Credentials::jwt(
                login_url.as_deref().unwrap_or(audience),
                audience,
                client_id,
                username,
                key_file,
            )
            .map_err(auth_error)
        }
    }
}
