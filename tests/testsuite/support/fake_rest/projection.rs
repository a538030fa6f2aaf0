//! A record as a query answers it: the selected fields, relationship paths as nested objects with
//! their own `attributes`, case-insensitive field names as SOQL has them.
use serde_json::{json, Map, Value};

/// The value at a dotted path, case-insensitive per segment; `Null` when absent.
pub fn lookup(record: &Value, path: &str) -> Value {
    let mut current = record;
    for segment in path.split('.') {
        let Some(object) = current.as_object() else {
            return Value::Null;
        };
        match object.iter().find(|(k, _)| k.eq_ignore_ascii_case(segment)) {
            Some((_, v)) => current = v,
            None => return Value::Null,
        }
    }
    current.clone()
}

/// The record as the query answers it: `attributes`, then the selected fields, relationships as
/// nested objects with their own `attributes` (null when the lookup is empty).
pub(crate) fn project(version: &str, object: &str, record: &Value, fields: &[String]) -> Value {
    let id = record["Id"].as_str().unwrap_or("");
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": object, "url": format!("/services/data/v{version}/sobjects/{object}/{id}")}),
    );
    for field in fields {
        let segments: Vec<&str> = field.split('.').collect();
        insert_path(&mut out, record, &segments);
    }
    Value::Object(out)
}

fn insert_path(out: &mut Map<String, Value>, source: &Value, segments: &[&str]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let found = source.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(first))
            .map(|(k, v)| (k.clone(), v.clone()))
    });
    let (key, value) = found.unwrap_or_else(|| (first.to_string(), Value::Null));
    if rest.is_empty() {
        out.insert(key, value);
        return;
    }
    if value.is_null() {
        out.insert(key, Value::Null);
        return;
    }
    let entry = out.entry(key).or_insert_with(|| {
        let mut nested = Map::new();
        if let Some(attrs) = value.get("attributes") {
            nested.insert("attributes".into(), attrs.clone());
        }
        Value::Object(nested)
    });
    if let Some(nested) = entry.as_object_mut() {
        insert_path(nested, &value, rest);
    }
}
