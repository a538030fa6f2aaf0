//! Command-line surface: one `*Args` struct per subcommand (clap derive).
//!
//! Each struct belongs to the command module of the same name; `--help` text here is the
//! user's manual, so it says what a flag does, its default, and where its value may also come from.
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
use clap::{Args, Parser, Subcommand};
use sfhooks::config::Overrides;
use sfhooks::scheme::SignatureScheme;

mod credentials;
mod nats;
mod poll;
pub use credentials::{CredentialArgs, OrgArgs};
pub use nats::{is_nats_url, stream_lines, NatsArgs};
pub use poll::{PollAction, PollArgs, PollReplayArgs, PollRunArgs, PollStatusArgs, StateArgs};

/// Signed, reliable outbound webhooks for Salesforce.
///
/// sfhooks generates the Apex (triggers, a durable outbox, a signing dispatcher, tests) that POSTs
/// a signed event to your URL whenever records are created, updated, deleted or undeleted; packages
/// it for the Metadata API; deploys it; and verifies what it sends on the receiving side.
#[derive(Debug, Parser)]
#[command(name = "sfhooks", version, after_help = sfhooks::exit_code::help_block(), propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the Apex and metadata into an SFDX source tree (or check it for drift).
    #[command(after_help = EXAMPLES_GENERATE)]
    Generate(GenerateArgs),
    /// Build the Metadata API zip (sandbox, production or uninstall), adding the signing secret.
    #[command(after_help = EXAMPLES_PACKAGE)]
    Package(PackageArgs),
    /// Authenticate and deploy to a sandbox, or validate and quick-deploy to production.
    #[command(after_help = EXIT_CODES_DEPLOY)]
    Deploy(DeployArgs),
    /// Verify one webhook delivery (signature, timestamp) the way a receiver must.
    Verify(VerifyArgs),
    /// Print a new random `whsec_` signing secret.
    Secret(SecretArgs),
    /// Run a local HTTP receiver that verifies every delivery (and optionally forwards it).
    Listen(ListenArgs),
    /// Show the pipeline's health in the org: outbox, lag, dead rows, gaps, jobs, switches.
    #[command(after_help = AFTER_HELP_STATUS)]
    Status(StatusArgs),
    /// Put Dead (or delivered) outbox rows back to Pending and start delivery.
    #[command(after_help = AFTER_HELP_REPLAY)]
    Replay(ReplayArgs),
    /// Poll orgs through the REST API (no Apex) and deliver the same signed events.
    #[command(after_help = poll::AFTER_HELP_POLL)]
    Poll(Box<PollArgs>),
}

const EXAMPLES_PACKAGE: &str = "\
Examples:
  sfhooks secret > secret.txt
  sfhooks package --objects Contact,Account --callback-url https://hooks.example.com/salesforce \\
    --secret-file secret.txt --out sfhooks.zip
  sfhooks package --from force-app/main/default --secret-file secret.txt --production --out prod.zip
  sfhooks package --config sfhooks.toml --uninstall --out uninstall.zip
  sfhooks package --secret-file secret.txt --org-id 00D5g000004ABCDEAU --out acme-prod.zip

The secret comes from --secret-file, else $SFHOOKS_SECRET, else the --instance JSON's
event.notification.signature.key; it is written only inside the zip. --org-id pins the
settings record to one org (delivery is held anywhere else, e.g. in a sandbox copied from it);
`sfhooks deploy` pins it by itself, so --org-id is for a zip deployed by other means.";

const EXIT_CODES_DEPLOY: &str = "\
Examples:
  SFDX_AUTH_URL=force://... sfhooks deploy --sandbox --config sfhooks.toml --secret-file secret.txt
  sfhooks deploy --production --validate-only --zip prod.zip --client-id ID \\
    --username admin@acme.com --jwt-key-file server.key
  sfhooks deploy --production --quick 0Af... --client-id ID --username admin@acme.com \\
    --jwt-key-file server.key
  sfhooks deploy --report 0Af... --sandbox
  sfhooks deploy --production --zip prod.zip --no-schedule   # an admin schedules the sweeper

Scheduled and queued jobs of the generated classes block a deploy of those classes: sfhooks
pauses them first and restores them after (Anonymous Apex: needs \"Author Apex\"); the plan
printed before the deploy lists them. --allow-pending-jobs skips that when the org's Deployment
Setting allows deployments with Apex jobs pending. The first deploy schedules the sweeper as the
deploying user. The settings record is pinned to the authenticated org.

Authentication: the first of --access-token (with --instance-url), --sfdx-auth-url, and
--client-id/--username/--jwt-key-file that is given wins. See docs/deploy.md.

Exit codes (as the Salesforce CLI's deploy commands, plus 2 and 3):
  0   Succeeded (with --validate-only: the validation succeeded)
  1   Failed or Canceled, a SOAP fault, or Salesforce unreachable after retries
  2   usage, configuration or bad input
  3   authentication with Salesforce failed (or the access token expired)
  68  SucceededPartial
  69  still running when --wait ran out; resume with `sfhooks deploy --report <id>`
When the jobs cannot be restored (exit 1, or 3 when the session ended), the Anonymous Apex that
restores them is printed.";

const EXAMPLES_GENERATE: &str = "\
Examples:
  sfhooks generate --objects Contact,Account --callback-url https://hooks.example.com/salesforce
  sfhooks generate --config sfhooks.toml --check
  sfhooks generate --instance open-connectors-instance.json --out force-app/main/default

Configuration comes from sfhooks.toml (or --config), then --instance, then flags; later wins.";

/// clap's parser for `--signature-scheme`: the library's names, with their descriptions in `--help`.
fn signature_scheme() -> impl clap::builder::TypedValueParser<Value = SignatureScheme> {
    let names = SignatureScheme::ALL
        .map(|scheme| PossibleValue::new(scheme.name()).help(scheme.description()));
    PossibleValuesParser::new(names).try_map(|name| name.parse::<SignatureScheme>())
}

/// The configuration inputs shared by generate, package and deploy.
#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// sfhooks.toml to read [default: ./sfhooks.toml when it exists].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Open Connectors / Cloud Elements instance JSON to read (event.objects, event.notification.callback.url, ...).
    #[arg(long, value_name = "PATH")]
    pub instance: Option<PathBuf>,
    /// Objects to watch, comma-separated API names: Contact,Account,Invoice__c,acme__Order__c.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub objects: Option<Vec<String>>,
    /// Absolute https URL the events are POSTed to.
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// Events to send, comma-separated [default: created,updated,deleted,undeleted].
    #[arg(long, value_name = "EVENTS", value_delimiter = ',')]
    pub events: Option<Vec<String>>,
    /// Salesforce API version of the generated metadata [default: 63.0].
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<String>,
    /// Prefix of every generated name [default: Sfhooks].
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// How deliveries are signed [default: standard].
    #[arg(long, value_parser = signature_scheme(), value_name = "SCHEME")]
    pub signature_scheme: Option<SignatureScheme>,
    /// Accept an http:// callback URL (only for test receivers; events travel unencrypted).
    #[arg(long)]
    pub allow_insecure_http: bool,
}

impl InputArgs {
    /// The flags as the library's plain options.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config: self.config.clone(),
            instance: self.instance.clone(),
            objects: self.objects.clone(),
            callback_url: self.callback_url.clone(),
            events: self.events.clone(),
            api_version: self.api_version.clone(),
            prefix: self.prefix.clone(),
            signature_scheme: self.signature_scheme,
            allow_insecure_http: self.allow_insecure_http,
            callback_url_optional: false,
        }
    }
}

/// `sfhooks generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Configuration inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Folder of the SFDX source tree to write [default: force-app/main/default].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write nothing; exit 0 when the folder matches what would be generated, 1 with a diff when not.
    #[arg(long)]
    pub check: bool,
}

/// `sfhooks package`.
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// Configuration inputs (ignored with --from).
    #[command(flatten)]
    pub input: InputArgs,
    /// Package an existing generated source tree instead of rendering one.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Zip file to write.
    #[arg(long, value_name = "FILE", default_value = "sfhooks.zip")]
    pub out: PathBuf,
    /// File holding the signing secret (else $SFHOOKS_SECRET, else event.notification.signature.key).
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// Build without the secret record (add it later in Setup > Custom Metadata Types).
    #[arg(long)]
    pub no_secret: bool,
    /// Also print the exact commands that ship the zip to production.
    #[arg(long, conflicts_with = "uninstall")]
    pub production: bool,
    /// Build a destructive package that removes everything sfhooks generated.
    #[arg(long)]
    pub uninstall: bool,
    /// Pin the settings record to this org (00D...): delivery is held in any other org, such as a sandbox copied from it.
    #[arg(long, value_name = "ORG_ID", conflicts_with_all = ["uninstall", "no_secret"])]
    pub org_id: Option<String>,
}

/// `sfhooks deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Configuration inputs (ignored with --zip). Boxed: the flags below make `DeployArgs` the
    /// largest `Command` variant by far (clippy::large_enum_variant).
    #[command(flatten)]
    pub input: Box<InputArgs>,
    /// Deploy to a sandbox (login host test.salesforce.com).
    #[arg(long, conflicts_with = "production", required_unless_present_any = ["production", "report"])]
    pub sandbox: bool,
    /// Deploy to production (login host login.salesforce.com), running the generated tests.
    #[arg(long)]
    pub production: bool,
    /// Deploy this zip instead of building one.
    #[arg(long, value_name = "FILE")]
    pub zip: Option<PathBuf>,
    /// File holding the signing secret (else $SFHOOKS_SECRET, else event.notification.signature.key).
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// Deploy without the secret record.
    #[arg(long)]
    pub no_secret: bool,
    /// Remove everything sfhooks generated.
    #[arg(long)]
    pub uninstall: bool,
    /// Test level (sandbox only; production always runs exactly the generated tests).
    #[arg(long, value_name = "LEVEL")]
    pub test_level: Option<String>,
    /// Check-only deploy with the tests; prints the validation id and the command to finish it.
    #[arg(long)]
    pub validate_only: bool,
    /// Quick-deploy a validation that succeeded within the last 10 days.
    #[arg(long, value_name = "VALIDATION_ID", conflicts_with_all = ["zip", "validate_only", "report", "uninstall", "test_level"])]
    pub quick: Option<String>,
    /// Resume polling a deploy job started earlier.
    #[arg(long, value_name = "JOB_ID", conflicts_with_all = ["zip", "validate_only", "uninstall", "test_level"])]
    pub report: Option<String>,
    /// Minutes to wait for the deploy.
    #[arg(long, value_name = "MINUTES", default_value_t = 33)]
    pub wait: u64,
    /// Do not schedule the sweeper after the first deploy; print the Anonymous Apex an admin runs instead.
    #[arg(long)]
    pub no_schedule: bool,
    /// Deploy without pausing the generated classes' jobs: the org's Deployment Setting "Allow deployments of components when corresponding Apex jobs are pending or in progress" is on.
    #[arg(long, conflicts_with = "report")]
    pub allow_pending_jobs: bool,
    /// One JSON object on stdout, shaped like the Salesforce CLI's.
    #[arg(long)]
    pub json: bool,
    /// How to authenticate with the org.
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// Where a receiver's secret comes from: never an argument, since process lists leak them.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct SecretSource {
    /// Environment variable holding the secret(s); several separated by spaces for rotation.
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// File holding the secret(s), one per line.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
}

impl SecretSource {
    /// The library's description of the source (clap's group guarantees exactly one is given).
    pub fn key_source(&self) -> Result<sfhooks::receiver::KeySource, crate::exit::UsageError> {
        match (&self.secret_env, &self.secret_file) {
            (Some(var), _) => Ok(sfhooks::receiver::KeySource::Env(var.clone())),
            (None, Some(path)) => Ok(sfhooks::receiver::KeySource::File(path.clone())),
            (None, None) => Err(crate::exit::UsageError::new(
                "no secret source: pass --secret-env VAR or --secret-file PATH",
            )),
        }
    }
}

/// `sfhooks verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes:
  0  the delivery is valid; a one-line summary of its events is printed
  1  the delivery is invalid (bad signature, stale, malformed header); the reason is printed
  2  usage error: missing flag, unreadable file or variable, malformed secret

Example:
  sfhooks verify --secret-env SFHOOKS_SECRET --id msg_2Lh9 --timestamp 1649367553 \\
    --signature 'v1,K5oZ...' --body-file body.json")]
pub struct VerifyArgs {
    /// Where the secret comes from.
    #[command(flatten)]
    pub secret: SecretSource,
    /// The webhook-id header (standard scheme).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// The webhook-timestamp header, Unix seconds (standard scheme).
    #[arg(long, value_name = "UNIX")]
    pub timestamp: Option<String>,
    /// The webhook-signature header, or the Elements-Webhook-Signature header with --signature-scheme elements.
    #[arg(long, value_name = "SIG")]
    pub signature: String,
    /// File holding the raw body [default: stdin].
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<PathBuf>,
    /// Accepted clock difference in seconds, either way.
    #[arg(long, value_name = "SECONDS", default_value_t = sfhooks::webhook::wire::DEFAULT_TOLERANCE_SECS)]
    pub tolerance: u64,
    /// Pretend the current time is this Unix time.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
    /// Signature scheme.
    #[arg(long, value_parser = signature_scheme(), default_value_t = SignatureScheme::Standard)]
    pub signature_scheme: SignatureScheme,
}

/// `sfhooks secret`.
#[derive(Debug, Args)]
pub struct SecretArgs {}

/// `sfhooks listen`.
#[derive(Debug, Args)]
#[command(after_help = "\
Answers (the generated Apex retries anything but 2xx):
  200  verified (and accepted by --forward-to); or a repeated webhook-id, not forwarded again
  400  malformed: missing or unparsable header, body not an sfhooks envelope
  401  bad signature, or timestamp outside --tolerance
  403  the envelope's orgId is none of the --org-id values
  405  not a POST
  408  headers or body not received within --read-timeout
  409  the same webhook-id is being processed right now
  413  body larger than --max-body
  502  --forward-to http(s):// unreachable or answered non-2xx
  503  --forward-to nats://: NATS unreachable or JetStream did not acknowledge in time
       (with Retry-After); a delivery JetStream already has is answered 200
GET /healthz answers 200, or 503 while NATS is unreachable (for load balancers).

Prints one line per event on stdout (--json: one JSON object per line), refusals on stderr.
Ctrl-C finishes the requests in progress, then exits 0.

Examples:
  sfhooks listen --port 8080 --secret-env SFHOOKS_SECRET --org-id 00D5g000004ABCDEA4
  sfhooks listen --port 8080 --secret-file secret.txt --forward-to http://127.0.0.1:9000/hooks
  SFHOOKS_NATS_PASSWORD=... sfhooks listen --port 8080 --secret-env SFHOOKS_SECRET \\
    --forward-to nats://nats.internal:4222 --nats-user sfhooks --nats-stream SFHOOKS --per-event")]
pub struct ListenArgs {
    /// Where the secret comes from.
    #[command(flatten)]
    pub secret: SecretSource,
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, value_name = "PORT")]
    pub port: u16,
    /// Address to bind.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: String,
    /// Forward every verified delivery: to an http(s):// URL (POSTed, headers passed through), or
    /// into NATS JetStream at nats://HOST:PORT or tls://HOST:PORT (2xx only once JetStream
    /// acknowledged it; 503 with Retry-After while it cannot). tls:// checks the server's
    /// certificate against the system's roots; for a private CA set $SSL_CERT_FILE to its PEM.
    #[arg(long, value_name = "URL")]
    pub forward_to: Option<String>,
    /// NATS JetStream, for --forward-to nats://.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Largest body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    pub max_body: usize,
    /// JSON lines on stdout instead of one text line per event.
    #[arg(long)]
    pub json: bool,
    /// Accepted clock difference in seconds, either way; also how long webhook-ids are remembered.
    #[arg(long, value_name = "SECONDS", default_value_t = sfhooks::webhook::wire::DEFAULT_TOLERANCE_SECS)]
    pub tolerance: u64,
    /// Seconds a client gets to send its request headers, and again its body, before the
    /// connection is dropped (protects against slow clients).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub read_timeout: u64,
    /// Signature scheme.
    #[arg(long, value_parser = signature_scheme(), default_value_t = SignatureScheme::Standard)]
    pub signature_scheme: SignatureScheme,
    /// Accept deliveries only from this org (15- or 18-character 00D... id; repeat for several);
    /// others get 403.
    #[arg(long, value_name = "00D...", value_parser = parse_org_id)]
    pub org_id: Vec<sfhooks::webhook::OrgId>,
}

fn parse_org_id(value: &str) -> Result<sfhooks::webhook::OrgId, String> {
    sfhooks::webhook::OrgId::parse(value).map_err(|e| e.to_string())
}

const AFTER_HELP_STATUS: &str = "\
Examples:
  SFDX_AUTH_URL=force://... sfhooks status
  sfhooks status --json --config sfhooks.toml | jq '.reasons[].code'
  sfhooks status --watch --sandbox --client-id ID --username admin@acme.com.dev \\
    --jwt-key-file server.key

It reads (REST API only, about ten requests): the outbox by status with the age of the oldest
Pending row, the newest Dead rows with their last error (never a payload), gap markers, the
sweeper's scheduled jobs and their owner, queued or running dispatchers, the settings record
(whether a secret is set is checked without reading it; its org pin), the run-time switches Apex
sets, the kill switches, and the Remote Site Setting against the configured callback URL.
The user needs the permission set <Prefix>_Viewer and \"View Setup and Configuration\".

Exit codes:
  0  healthy
  1  something needs attention: one line per reason (with --json: .reasons[], each with a code)
  2  usage, configuration or bad input
  3  authentication with Salesforce failed (or the access token expired)";

const AFTER_HELP_REPLAY: &str = "\
Examples:
  sfhooks replay --dead --dry-run                       # what would be replayed
  sfhooks replay --dead --object Contact --since 6h     # Dead Contact rows captured in the last 6 h
  sfhooks replay --dead --since 2026-12-06T10:00:00Z --limit 1000 --yes
  sfhooks replay --delivered --since 2026-12-06 --yes   # resend what a receiver lost

Rows are put back to Pending (attempts reset, due now) 200 per request, then a dispatcher is
started (Anonymous Apex `<Prefix>Dispatcher.requestRun();`; without \"Author Apex\" the sweeper
starts one within 15 minutes). --delivered resends rows still kept (7 days) with the same
webhook-id, so receivers that dedupe on it ignore what they already have. More than 100 rows
ask for confirmation on a terminal, and need --yes elsewhere. The user needs the permission set
<Prefix>_Admin.

Exit codes:
  0  every selected row was replayed (or --dry-run, or nothing matched)
  1  some rows were refused (each is listed), or sfhooks is not deployed
  2  usage, configuration or bad input (also: many rows without --yes and no terminal)
  3  authentication with Salesforce failed, or the session expired mid-replay (what was done
     is printed first; run the same command again for the rest)";

/// `sfhooks status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Configuration inputs (the prefix and the callback URL).
    #[command(flatten)]
    pub input: Box<InputArgs>,
    /// The org.
    #[command(flatten)]
    pub org: OrgArgs,
    /// One JSON object on stdout.
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
    /// Redraw every --interval seconds (terminal only; Ctrl-C stops).
    #[arg(long)]
    pub watch: bool,
    /// Seconds between redraws with --watch (each costs about ten API requests).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..))]
    pub interval: u64,
    /// Minutes the oldest Pending row may wait before it needs attention.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub max_lag: u64,
}

/// `sfhooks replay`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["dead", "delivered"])))]
pub struct ReplayArgs {
    /// Configuration inputs (the prefix).
    #[command(flatten)]
    pub input: Box<InputArgs>,
    /// The org.
    #[command(flatten)]
    pub org: OrgArgs,
    /// Replay Dead rows.
    #[arg(long)]
    pub dead: bool,
    /// Resend Delivered rows still kept (needs --since).
    #[arg(long, requires = "since")]
    pub delivered: bool,
    /// Only rows of this object (API name, e.g. Contact).
    #[arg(long, value_name = "OBJECT")]
    pub object: Option<String>,
    /// Only rows captured at or after TIME: 2026-12-06T10:15:30Z, 2026-12-06, or an age (90m, 6h, 2d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// At most N rows, oldest first.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Show what would be replayed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask, however many rows (for scripts).
    #[arg(long)]
    pub yes: bool,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests;
