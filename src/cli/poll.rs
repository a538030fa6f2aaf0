//! `sfhooks poll` and its `status` and `replay` subcommands.
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{InputArgs, NatsArgs, OrgArgs};

pub const AFTER_HELP_POLL: &str = "\
Examples:
  SFDX_AUTH_URL=force://... sfhooks poll --objects Contact,Account \\
    --callback-url https://hooks.example.com/salesforce --secret-file secret.txt
  sfhooks poll --config sfhooks.toml --once            # one window per org and object, for cron
  sfhooks poll --instance instance.json --secret-file secret.txt   # event.vendor.type polling
  sfhooks poll --backfill 2026-12-01T00:00:00Z --org acme --object Contact   # resync after a gap
  sfhooks poll --config sfhooks.toml --forward-to nats://127.0.0.1:4222 --nats-stream SFHOOKS
  sfhooks poll status --json
  sfhooks poll replay --dead --org acme

Each cycle reads, per object, the records whose SystemModstamp is in [cursor - lookback, org
clock - settle] (one SOQL query, ordered by SystemModstamp, Id) and the deleted records of that
window, the first pages of every object in one composite request; it sends CREATED, UPDATED (with
changedFields), DELETED and UNDELETED events in the Apex's envelope, signed the same way, at most
--max-events per delivery. A new cursor starts at the org's clock (nothing older is sent) unless
--backfill says otherwise. Events and the cursor are committed together to the state (SQLite), and
retries send the same bytes with the same webhook-id; receivers dedupe on it (at-least-once).
Several orgs: [[poll.orgs]] in sfhooks.toml, see docs/poll.md.

Exit codes (with --once; a poller stopped by SIGINT/SIGTERM exits 0):
  0  every event delivered
  1  something is still pending, retrying or dead, or an org's cycle failed (its error is printed)
  2  usage, configuration or bad input (an unknown object or field, a state in use or made for
     another org)
  3  authentication with Salesforce failed for an org (the other orgs still ran)";

/// `sfhooks poll`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PollArgs {
    /// Show or mend the state instead of polling.
    #[command(subcommand)]
    pub action: Option<PollAction>,
    /// Polling.
    #[command(flatten)]
    pub run: PollRunArgs,
}

/// The subcommands of `sfhooks poll`.
#[derive(Debug, Subcommand)]
pub enum PollAction {
    /// Show, per org and object, the cursor, its lag behind the org's clock, the deliveries
    /// pending, retrying and dead, and the last errors (reads only the state file).
    Status(PollStatusArgs),
    /// Put dead deliveries back to pending; the next `sfhooks poll` sends them again with the
    /// same webhook-id and bytes.
    Replay(PollReplayArgs),
}

/// Where the state is.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// sfhooks.toml, for the state path of its [poll] table [default: ./sfhooks.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The poll state file [default: poll.state in sfhooks.toml, else sfhooks-poll.db beside it].
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
}

/// `sfhooks poll status`.
#[derive(Debug, Args)]
pub struct PollStatusArgs {
    /// Where the state is.
    #[command(flatten)]
    pub state: StateArgs,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `sfhooks poll replay`.
#[derive(Debug, Args)]
pub struct PollReplayArgs {
    /// Where the state is.
    #[command(flatten)]
    pub state: StateArgs,
    /// Put the dead deliveries back (the only kind there is to replay).
    #[arg(long, required = true)]
    pub dead: bool,
    /// Only this org's.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
}

/// The flags of a polling run.
#[derive(Debug, Args)]
pub struct PollRunArgs {
    /// Configuration inputs (objects, callback URL, signature scheme).
    #[command(flatten)]
    pub input: InputArgs,
    /// The org, when sfhooks.toml has no [[poll.orgs]].
    #[command(flatten)]
    pub org: OrgArgs,
    /// File holding the signing secret [default: $SFHOOKS_SECRET, else the --instance JSON's
    /// event.notification.signature.key]; an org's secret_file in [[poll.orgs]] wins.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// File holding the previous secret during a rotation: deliveries carry both signatures.
    #[arg(long, value_name = "PATH")]
    pub previous_secret_file: Option<PathBuf>,
    /// The state file [default: poll.state in sfhooks.toml, else sfhooks-poll.db beside it].
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// One cycle per org and object, deliver, exit (for cron and tests).
    #[arg(long)]
    pub once: bool,
    /// Time between two cycles of an org, like 90s, 5m, 1h [default: poll.interval, else the
    /// instance's event.poller.refresh_interval minutes, else 5m].
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// How far before the cursor each window starts again, for rows committed late [default: 10m].
    #[arg(long, value_name = "DURATION")]
    pub lookback: Option<String>,
    /// How far behind the org's clock each window ends [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub settle: Option<String>,
    /// Events per delivery, 1 to 200 [default: 200].
    #[arg(long, value_name = "N")]
    pub max_events: Option<usize>,
    /// First retry delay of a failed delivery; it doubles, at most an hour [default: 1m].
    #[arg(long, value_name = "DURATION")]
    pub retry_delay: Option<String>,
    /// Where a new cursor starts (default: the org's clock, nothing older is sent): an RFC 3339
    /// time like 2026-12-01T00:00:00Z, or an age like 2h. With --org it also resets that org's
    /// existing cursors (with --object only that object's): a resync after a gap.
    #[arg(long, value_name = "SINCE")]
    pub backfill: Option<String>,
    /// Only this org of [[poll.orgs]] (also the org --backfill resets).
    #[arg(long = "org", value_name = "NAME")]
    pub org_name: Option<String>,
    /// With --backfill: only this object.
    #[arg(long, value_name = "OBJECT", requires = "backfill")]
    pub object: Option<String>,
    /// Publish the deliveries into NATS JetStream at nats://HOST:PORT or tls://HOST:PORT instead
    /// of POSTing them (no callback URL or secret needed): the subjects, ids and headers of
    /// `sfhooks listen --forward-to`, so one stream serves both capture modes. A delivery counts
    /// once JetStream acknowledged it; until then it is retried like a failed POST. tls:// checks
    /// the server's certificate against the system's roots ($SSL_CERT_FILE for a private CA).
    #[arg(long, value_name = "URL")]
    pub forward_to: Option<String>,
    /// NATS JetStream, for --forward-to.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// One JSON object per line on stdout ("kind": window, delivery, gap, paused, org-failed,
    /// summary).
    #[arg(long)]
    pub json: bool,
}
