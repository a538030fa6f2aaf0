//! An Open Connectors / Cloud Elements instance JSON (`--instance`), read into the settings.
//!
//! `event.vendor.type` says which capture the instance was made for: `webhooks` (the Apex
//! commands) or `polling` (`sfhooks poll`); each command refuses the other's with the command to
//! use ([`VendorType`], checked by the commands). The older polling form names its objects as the
//! keys of `event.poller.configuration`, a JSON document inside a string, whose `url` holds a
//! `LastModifiedDate` query that sfhooks ignores (it polls on SystemModstamp, FACTS.md "REST API").
use std::path::Path;
use std::time::Duration;

use super::{invalid, read, ConfigError, Raw};

/// Which capture an instance JSON was made for (`event.vendor.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorType {
    /// Pushed by Apex triggers: `generate`, `package`, `deploy`.
    Webhooks,
    /// Read through the REST API: `poll`.
    Polling,
}

/// The `event.*` keys of an Open Connectors instance that sfhooks understands.
const KNOWN_INSTANCE_KEYS: &[&str] = &[
    "event.notification.enabled",
    "event.vendor.type",
    "event.notification.callback.url",
    "event.notification.signature.key",
    "event.objects",
    "event.poller.refresh_interval",
    "event.poller.configuration",
];

fn instance_bool(value: &serde_json::Value) -> Option<bool> {
    match value {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn instance_string(key: &str, value: &serde_json::Value) -> Result<String, ConfigError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("instance key {key:?} must be a string")))
}

/// Reads an Open Connectors / Cloud Elements instance JSON
/// (`{"element":{"key":"sfdc"},"configuration":{"event.objects":"Contact,Account",...}}`).
pub(super) fn apply_instance(raw: &mut Raw, path: &Path) -> Result<(), ConfigError> {
    let json: serde_json::Value =
        serde_json::from_str(&read(path)?).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            format: "JSON",
            message: e.to_string(),
        })?;
    let configuration = json
        .get("configuration")
        .and_then(|c| c.as_object())
        .ok_or_else(|| {
            invalid(format!(
                "{} has no \"configuration\" object; expected an Open Connectors instance JSON",
                path.display()
            ))
        })?;
    if let Some(key) = json.pointer("/element/key").and_then(|k| k.as_str()) {
        if key != "sfdc" {
            raw.warnings.push(format!(
                "{} is an instance of element {key:?}, not \"sfdc\" (Salesforce)",
                path.display()
            ));
        }
    }
    if let Some(enabled) = configuration.get("event.notification.enabled") {
        if instance_bool(enabled) != Some(true) {
            return Err(invalid(format!(
                "events are disabled in {} (event.notification.enabled = {enabled}); set it to true to generate webhooks",
                path.display()
            )));
        }
    }
    if let Some(vendor) = configuration.get("event.vendor.type") {
        let vendor = instance_string("event.vendor.type", vendor)?;
        raw.vendor = Some(match vendor.trim() {
            "webhooks" => VendorType::Webhooks,
            "polling" => VendorType::Polling,
            other => {
                return Err(invalid(format!(
                    "event.vendor.type is {other:?}: use \"webhooks\" (Apex triggers: sfhooks \
                     generate, package, deploy) or \"polling\" (sfhooks poll)"
                )))
            }
        });
    }
    if let Some(minutes) = configuration.get("event.poller.refresh_interval") {
        raw.refresh_interval = Some(refresh_interval(minutes)?);
    }
    if let Some(poller) = configuration.get("event.poller.configuration") {
        if configuration.get("event.objects").is_none() {
            raw.objects = Some(poller_objects(poller, &mut raw.warnings)?);
        }
    }
    if let Some(objects) = configuration.get("event.objects") {
        let objects = instance_string("event.objects", objects)?;
        raw.objects = Some(objects.split(',').map(|s| s.trim().to_string()).collect());
    }
    if let Some(url) = configuration.get("event.notification.callback.url") {
        raw.callback_url = Some(instance_string("event.notification.callback.url", url)?);
    }
    if let Some(key) = configuration.get("event.notification.signature.key") {
        raw.signature_key = Some(instance_string("event.notification.signature.key", key)?);
    }
    let unknown: Vec<&str> = configuration
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with("event.") && !KNOWN_INSTANCE_KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        raw.warnings.push(format!(
            "ignoring instance keys sfhooks does not use: {}",
            unknown.join(", ")
        ));
    }
    Ok(())
}

/// `event.poller.refresh_interval`: whole minutes, as a string or a number.
fn refresh_interval(value: &serde_json::Value) -> Result<Duration, ConfigError> {
    let minutes = match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match minutes {
        Some(m) if (1..=1440).contains(&m) => Ok(Duration::from_secs(m * 60)),
        _ => Err(invalid(format!(
            "event.poller.refresh_interval is {value}: write the minutes between two polls, 1 to 1440, like \"5\""
        ))),
    }
}

/// The objects of the older form: the keys of `event.poller.configuration` (a JSON document in a
/// string), `accounts` → Account and so on; an API name stands for itself.
fn poller_objects(
    value: &serde_json::Value,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, ConfigError> {
    let text = instance_string("event.poller.configuration", value)?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        invalid(format!(
            "event.poller.configuration is not a JSON document ({e}); set event.objects to \
             \"Contact,Account\" instead"
        ))
    })?;
    let map = doc.as_object().ok_or_else(|| {
        invalid(
            "event.poller.configuration must be a JSON object whose keys are the resources to poll",
        )
    })?;
    let mut objects = Vec::with_capacity(map.len());
    for (key, entry) in map {
        let object = match key.to_ascii_lowercase().as_str() {
            "accounts" => "Account".to_string(),
            "contacts" => "Contact".to_string(),
            "leads" => "Lead".to_string(),
            "opportunities" => "Opportunity".to_string(),
            _ => key.clone(),
        };
        if entry.get("url").is_some() || entry.get("datesConfiguration").is_some() {
            warnings.push(format!(
                "event.poller.configuration.{key}: its url and date formats are ignored; sfhooks \
                 polls {object} on SystemModstamp, which imports cannot backdate"
            ));
        }
        objects.push(object);
    }
    if objects.is_empty() {
        return Err(invalid(
            "event.poller.configuration names no resources; set event.objects to \"Contact,Account\"",
        ));
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::super::{load, Overrides, VendorType};

    fn load_instance(conf: &str) -> Result<super::super::Config, super::super::ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("i.json");
        std::fs::write(&path, format!(r#"{{"configuration":{{{conf}}}}}"#)).expect("write");
        load(&Overrides {
            instance: Some(path),
            callback_url: Some("https://hooks.example.com/x".into()),
            ..Overrides::default()
        })
    }

    #[test]
    fn disabled_events_and_unknown_vendors_are_refused() {
        for (conf, needle) in [
            (r#""event.notification.enabled":false"#, "disabled"),
            (r#""event.notification.enabled":"false""#, "disabled"),
            (
                r#""event.objects":"Lead","event.vendor.type":"pubsub""#,
                "use \"webhooks\"",
            ),
            (
                r#""event.objects":"Lead","event.poller.refresh_interval":"0""#,
                "1 to 1440",
            ),
            (
                r#""event.objects":"Lead","event.poller.refresh_interval":"five""#,
                "minutes between two polls",
            ),
            (
                r#""event.poller.configuration":"{not json""#,
                "not a JSON document",
            ),
        ] {
            let err = load_instance(conf).expect_err(conf).to_string();
            assert!(err.contains(needle), "{conf}: {err}");
        }
    }

    #[test]
    fn polling_instances_load_and_each_mode_refuses_the_other() {
        let polling = load_instance(
            r#""event.vendor.type":"polling","event.objects":"Contact","event.poller.refresh_interval":"5""#,
        )
        .expect("a polling instance loads");
        assert_eq!(polling.vendor, Some(VendorType::Polling));
        assert_eq!(
            polling.refresh_interval,
            Some(std::time::Duration::from_secs(300))
        );
        polling
            .require_vendor(VendorType::Polling, "sfhooks poll")
            .expect("poll takes it");
        let err = polling
            .require_vendor(VendorType::Webhooks, "sfhooks generate")
            .unwrap_err()
            .to_string();
        assert!(err.contains("run `sfhooks poll`"), "{err}");
        let webhooks =
            load_instance(r#""event.vendor.type":"webhooks","event.objects":"Contact""#).unwrap();
        let err = webhooks
            .require_vendor(VendorType::Polling, "sfhooks poll")
            .unwrap_err()
            .to_string();
        assert!(err.contains("run `sfhooks generate`"), "{err}");
    }

    #[test]
    fn the_older_poller_configuration_names_the_objects() {
        // The shape Open Connectors documents: a JSON document inside a string, with a url whose
        // where clause has an unpaired quote and date formats with typos.
        let inner = r#"{\"accounts\":{\"url\":\"/hubs/crm/accounts?where=LastModifiedDate>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}\",\"idField\":\"Id\",\"datesConfiguration\":{\"updatedDateField\":\"LastModifiedDate\",\"updatedDateFormat\":\"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"}},\"Invoice__c\":{}}"#;
        let c = load_instance(&format!(
            r#""event.vendor.type":"polling","event.poller.configuration":"{inner}""#
        ))
        .expect("loads");
        let names: Vec<&str> = c.objects.iter().map(|o| o.name.api_name.as_str()).collect();
        assert_eq!(names, ["Invoice__c", "Account"]); // the keys in serde_json order (sorted)
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("accounts") && w.contains("SystemModstamp")),
            "{:?}",
            c.warnings
        );
    }
}
