//! One validated configuration from three sources, later winning: `sfhooks.toml` (or `--config`),
//! an Open Connectors instance JSON (`--instance`), then flags.
//!
//! Everything downstream (render, package, deploy) takes a [`Config`] and trusts it: names are
//! valid API names, the callback URL is absolute https with nothing that could break out of an
//! Apex string or XML text, the version and prefix are usable.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::naming::{self, NameError, ObjectName};
use crate::redacted::Redacted;
use crate::scheme::SignatureScheme;

pub mod duration;
mod instance;
pub mod poll;

pub use instance::VendorType;
pub use poll::{OrgLogin, OrgSpec, PollConfig};

/// Default Salesforce API version of the generated metadata.
pub const DEFAULT_API_VERSION: &str = "63.0";
/// Oldest API version the generated Apex compiles with (`??` needs 60.0, Spring '24).
pub const MIN_API_VERSION: u32 = 60;
/// Default prefix of generated names.
pub const DEFAULT_PREFIX: &str = "Sfhooks";
/// Default SFDX source folder.
pub const DEFAULT_OUT: &str = "force-app/main/default";
/// The config file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "sfhooks.toml";

/// What the caller gives on top of the files: where to read them, and values that override
/// theirs. The command line fills it from its flags; a library user fills it by hand.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// sfhooks.toml to read; `None` reads ./sfhooks.toml when it exists.
    pub config: Option<PathBuf>,
    /// Open Connectors / Cloud Elements instance JSON to read.
    pub instance: Option<PathBuf>,
    /// Objects to watch (API names).
    pub objects: Option<Vec<String>>,
    /// Absolute https URL the events are POSTed to.
    pub callback_url: Option<String>,
    /// Events to send.
    pub events: Option<Vec<String>>,
    /// Salesforce API version of the generated metadata.
    pub api_version: Option<String>,
    /// Prefix of every generated name.
    pub prefix: Option<String>,
    /// How deliveries are signed.
    pub signature_scheme: Option<SignatureScheme>,
    /// Accept an http:// callback URL (test receivers only).
    pub allow_insecure_http: bool,
    /// The caller delivers elsewhere (`sfhooks poll --forward-to nats://...`): no callback URL
    /// is no error, and [`Config::callback_url`] is then `None`.
    pub callback_url_optional: bool,
}

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be parsed.
    #[error("{path} is not valid {format}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// "TOML" or "JSON".
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A value is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// A bad name.
    #[error(transparent)]
    Name(#[from] NameError),
}

fn no_callback_url() -> ConfigError {
    invalid("no callback URL: pass --callback-url https://hooks.example.com/salesforce")
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

/// Which record changes produce events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Events {
    /// Insert.
    pub created: bool,
    /// Update.
    pub updated: bool,
    /// Delete.
    pub deleted: bool,
    /// Undelete.
    pub undeleted: bool,
}

impl Events {
    const ALL: Events = Events {
        created: true,
        updated: true,
        deleted: true,
        undeleted: true,
    };

    fn parse(list: &[String]) -> Result<Events, ConfigError> {
        let mut events = Events {
            created: false,
            updated: false,
            deleted: false,
            undeleted: false,
        };
        for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            match item.to_ascii_lowercase().as_str() {
                "created" => events.created = true,
                "updated" => events.updated = true,
                "deleted" => events.deleted = true,
                "undeleted" => events.undeleted = true,
                _ => {
                    return Err(invalid(format!(
                        "unknown event {item:?}: use created, updated, deleted or undeleted"
                    )))
                }
            }
        }
        if !(events.created || events.updated || events.deleted || events.undeleted) {
            return Err(invalid(
                "no events selected: pass --events created,updated,deleted,undeleted (or a subset)",
            ));
        }
        Ok(events)
    }
}

/// One watched object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectConfig {
    /// The validated API name.
    pub name: ObjectName,
    /// Fields the event's `record` carries; `None` means every populated field.
    pub fields: Option<Vec<String>>,
    /// UPDATED only when one of these changed; `None` means any change.
    pub watched_fields: Option<Vec<String>>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Objects to watch, in the order given.
    pub objects: Vec<ObjectConfig>,
    /// Where events are POSTed; `None` only when [`Overrides::callback_url_optional`] allowed it.
    pub callback_url: Option<url::Url>,
    /// Which changes produce events.
    pub events: Events,
    /// API version of the generated metadata, e.g. "63.0".
    pub api_version: String,
    /// Prefix of every generated name.
    pub prefix: String,
    /// SFDX source folder to write.
    pub out_dir: PathBuf,
    /// How deliveries are signed.
    pub signature_scheme: SignatureScheme,
    /// `event.notification.signature.key` of an instance JSON: a secret source for package and
    /// deploy, never written into the source tree.
    pub signature_key: Option<Redacted<String>>,
    /// `event.vendor.type` of an instance JSON: which command it was made for.
    pub vendor: Option<VendorType>,
    /// `event.poller.refresh_interval` of an instance JSON (minutes there).
    pub refresh_interval: Option<std::time::Duration>,
    /// The `[poll]` table: what `sfhooks poll` needs besides the above.
    pub poll: PollConfig,
    /// Things the user should know that did not stop us.
    pub warnings: Vec<String>,
}

impl Config {
    /// The callback URL, or the error that names the flag; the commands that POST call this
    /// rather than spell the refusal again.
    pub fn require_callback_url(&self) -> Result<&url::Url, ConfigError> {
        self.callback_url.as_ref().ok_or_else(no_callback_url)
    }

    /// Refuses a configuration whose instance JSON was made for the other capture mode, naming
    /// the command that serves it: `command` is the one running (`sfhooks generate`, ...).
    pub fn require_vendor(&self, wanted: VendorType, command: &str) -> Result<(), ConfigError> {
        match (self.vendor, wanted) {
            (Some(VendorType::Polling), VendorType::Webhooks) => Err(invalid(format!(
                "the instance's event.vendor.type is \"polling\": {command} builds the Apex \
                 triggers of \"webhooks\"; run `sfhooks poll` for polling, or set \
                 event.vendor.type to \"webhooks\""
            ))),
            (Some(VendorType::Webhooks), VendorType::Polling) => Err(invalid(format!(
                "the instance's event.vendor.type is \"webhooks\": {command} polls through the \
                 REST API; run `sfhooks generate` / `sfhooks deploy` for webhooks, or set \
                 event.vendor.type to \"polling\""
            ))),
            _ => Ok(()),
        }
    }
}

/// Per-object settings in sfhooks.toml: `[objects_config.Invoice__c]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectFile {
    fields: Option<Vec<String>>,
    watched_fields: Option<Vec<String>>,
}

/// sfhooks.toml. Unknown keys are errors, so a typo never silently does nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    objects: Option<Vec<String>>,
    callback_url: Option<String>,
    events: Option<Vec<String>>,
    api_version: Option<String>,
    prefix: Option<String>,
    out: Option<PathBuf>,
    signature_scheme: Option<SignatureScheme>,
    allow_insecure_http: Option<bool>,
    #[serde(default)]
    objects_config: BTreeMap<String, ObjectFile>,
    poll: Option<poll::PollFile>,
}

/// The settings gathered before validation; each source overwrites what it sets.
#[derive(Debug, Default)]
struct Raw {
    objects: Option<Vec<String>>,
    callback_url: Option<String>,
    events: Option<Vec<String>>,
    api_version: Option<String>,
    prefix: Option<String>,
    out: Option<PathBuf>,
    signature_scheme: Option<SignatureScheme>,
    allow_insecure_http: bool,
    callback_url_optional: bool,
    objects_config: BTreeMap<String, ObjectFile>,
    signature_key: Option<String>,
    vendor: Option<VendorType>,
    refresh_interval: Option<std::time::Duration>,
    poll: Option<poll::PollFile>,
    /// The folder of the config file, which relative paths of `[poll]` start from.
    base: PathBuf,
    warnings: Vec<String>,
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn apply_config_file(raw: &mut Raw, path: &Path) -> Result<(), ConfigError> {
    let file: ConfigFile = toml::from_str(&read(path)?).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        format: "TOML",
        message: e.to_string().trim_end().to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    raw.objects = file.objects.or(raw.objects.take());
    raw.callback_url = file.callback_url.or(raw.callback_url.take());
    raw.events = file.events.or(raw.events.take());
    raw.api_version = file.api_version.or(raw.api_version.take());
    raw.prefix = file.prefix.or(raw.prefix.take());
    // A relative `out` is relative to the config file, so `--config some/dir/sfhooks.toml` works
    // from anywhere.
    raw.out = file.out.map(|out| base.join(out)).or(raw.out.take());
    raw.signature_scheme = file.signature_scheme.or(raw.signature_scheme);
    raw.allow_insecure_http |= file.allow_insecure_http.unwrap_or(false);
    raw.objects_config = file.objects_config;
    raw.poll = file.poll;
    raw.base = base.to_path_buf();
    Ok(())
}

fn apply_flags(raw: &mut Raw, input: &Overrides, out: Option<&Path>) {
    if let Some(objects) = &input.objects {
        raw.objects = Some(objects.clone());
    }
    if let Some(url) = &input.callback_url {
        raw.callback_url = Some(url.clone());
    }
    if let Some(events) = &input.events {
        raw.events = Some(events.clone());
    }
    if let Some(v) = &input.api_version {
        raw.api_version = Some(v.clone());
    }
    if let Some(p) = &input.prefix {
        raw.prefix = Some(p.clone());
    }
    if let Some(s) = input.signature_scheme {
        raw.signature_scheme = Some(s);
    }
    if let Some(out) = out {
        raw.out = Some(out.to_path_buf());
    }
    raw.allow_insecure_http |= input.allow_insecure_http;
    raw.callback_url_optional = input.callback_url_optional;
}

/// Characters that must never reach generated Apex or XML from a value, with how to name them.
/// The filters escape them too; refusing them keeps the generated code readable and reviewable.
fn forbidden_char(value: &str) -> Option<String> {
    if value.contains("*/") {
        return Some("\"*/\"".to_string());
    }
    value
        .chars()
        .find(|c| {
            matches!(c, '\'' | '"' | '\\' | '<' | '>' | '`') || c.is_control() || c.is_whitespace()
        })
        .map(|c| format!("{c:?}"))
}

/// Validates the callback URL: absolute https (http only when allowed), a host, no credentials,
/// no fragment, nothing that could break out of an Apex string or XML text.
pub fn validate_callback_url(value: &str, allow_http: bool) -> Result<url::Url, ConfigError> {
    if let Some(bad) = forbidden_char(value) {
        return Err(invalid(format!(
            "callback URL {value:?} contains {bad}; percent-encode it (e.g. %27 for a quote, %20 for a space)"
        )));
    }
    let url = url::Url::parse(value).map_err(|e| {
        invalid(format!(
            "callback URL {value:?} is not an absolute URL ({e}); write it like https://hooks.example.com/salesforce"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(invalid(format!(
            "callback URL {value:?} is http: events would travel unencrypted; use https, or pass \
                 --allow-insecure-http for a test receiver"
        )))
        }
        other => {
            return Err(invalid(format!(
                "callback URL {value:?} has scheme {other:?}; use https"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("callback URL {value:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(format!(
            "callback URL {:?} carries credentials, which would be stored in the Apex source; \
             remove them and authenticate the receiver with the webhook signature instead",
            without_userinfo(&url)
        )));
    }
    if url.fragment().is_some() {
        return Err(invalid(format!(
            "callback URL {value:?} has a #fragment, which is never sent; remove it"
        )));
    }
    Ok(url)
}

/// The URL with its user name and password replaced, so an error never echoes a password.
fn without_userinfo(url: &url::Url) -> String {
    let mut shown = url.clone();
    // Both only fail for URLs that cannot carry credentials (no host, or `file:`), and a URL that
    // reaches here has a host and carries some: nothing to redact otherwise.
    let _ = shown.set_password(None);
    let _ = shown.set_username("***");
    shown.to_string()
}

fn validate_api_version(v: &str) -> Result<(), ConfigError> {
    let major = v
        .strip_suffix(".0")
        .and_then(|m| m.parse::<u32>().ok())
        .filter(|m| m.to_string().len() == 2 || m.to_string().len() == 3);
    match major {
        Some(m) if m >= MIN_API_VERSION => Ok(()),
        Some(_) => Err(invalid(format!(
            "API version {v} is too old: the generated Apex needs {MIN_API_VERSION}.0 or later"
        ))),
        None => Err(invalid(format!(
            "API version {v:?} is not a Salesforce API version; write it like {DEFAULT_API_VERSION}"
        ))),
    }
}

fn validate_field_list(
    object: &str,
    what: &str,
    list: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(list) = list else { return Ok(None) };
    if list.is_empty() {
        return Err(invalid(format!(
            "objects_config.{object}.{what} is empty; remove it to mean every field"
        )));
    }
    for field in &list {
        naming::validate_field_name(field)?;
    }
    let mut seen = std::collections::HashSet::new();
    for field in &list {
        if !seen.insert(field.to_ascii_lowercase()) {
            return Err(invalid(format!(
                "objects_config.{object}.{what} lists {field:?} twice"
            )));
        }
    }
    Ok(Some(list))
}

fn validate(raw: Raw) -> Result<Config, ConfigError> {
    let names = raw.objects.ok_or_else(|| {
        invalid("no objects to watch: pass --objects Contact,Account (or objects = [...] in sfhooks.toml, or event.objects in --instance)")
    })?;
    let names: Vec<&str> = names.iter().map(|s| s.trim()).collect();
    if names.iter().all(|n| n.is_empty()) {
        return Err(invalid(
            "the object list is empty: pass --objects Contact,Account",
        ));
    }
    let mut objects = Vec::with_capacity(names.len());
    for name in &names {
        objects.push(naming::parse_object_name(name)?);
    }
    naming::check_duplicates(names.iter().copied())?;

    let mut per_object = raw.objects_config;
    let objects = objects
        .into_iter()
        .map(|name| {
            let settings = per_object.remove(&name.api_name).unwrap_or_default();
            Ok(ObjectConfig {
                fields: validate_field_list(&name.api_name, "fields", settings.fields)?,
                watched_fields: validate_field_list(
                    &name.api_name,
                    "watched_fields",
                    settings.watched_fields,
                )?,
                name,
            })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    if let Some(extra) = per_object.keys().next() {
        return Err(invalid(format!(
            "objects_config.{extra} configures an object that is not in the object list; add it to objects or remove the table"
        )));
    }

    let callback_url = match &raw.callback_url {
        Some(url) => Some(validate_callback_url(url.trim(), raw.allow_insecure_http)?),
        None if raw.callback_url_optional => None,
        None => return Err(no_callback_url()),
    };
    let events = match raw.events {
        Some(list) => Events::parse(&list)?,
        None => Events::ALL,
    };
    let api_version = raw
        .api_version
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
    validate_api_version(&api_version)?;
    let prefix = raw.prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    naming::validate_prefix(&prefix)?;
    for object in &objects {
        naming::check_not_own_object(&prefix, &object.name)?;
    }
    let out_dir = raw.out.unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    let poll = poll::validate_poll(raw.poll, &raw.base, raw.allow_insecure_http)?;

    Ok(Config {
        objects,
        callback_url,
        events,
        api_version,
        prefix,
        out_dir,
        signature_scheme: raw.signature_scheme.unwrap_or(SignatureScheme::Standard),
        signature_key: raw.signature_key.map(Redacted::new),
        vendor: raw.vendor,
        refresh_interval: raw.refresh_interval,
        poll,
        warnings: raw.warnings,
    })
}

/// Loads the configuration: sfhooks.toml (or `--config`), then `--instance`, then flags.
pub fn load(input: &Overrides) -> Result<Config, ConfigError> {
    load_with_out(input, None)
}

/// Like [`load`], with an `--out` flag that overrides the config file's `out`.
pub fn load_with_out(input: &Overrides, out: Option<&Path>) -> Result<Config, ConfigError> {
    let mut raw = Raw::default();
    match &input.config {
        Some(path) => apply_config_file(&mut raw, path)?,
        None => {
            let default = Path::new(DEFAULT_CONFIG_FILE);
            if default.is_file() {
                apply_config_file(&mut raw, default)?;
            }
        }
    }
    if let Some(path) = &input.instance {
        instance::apply_instance(&mut raw, path)?;
    }
    apply_flags(&mut raw, input, out);
    validate(raw)
}

#[cfg(test)]
mod tests;
