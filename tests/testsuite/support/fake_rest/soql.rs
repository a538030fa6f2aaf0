//! The fake org's SOQL: the subset of the grammar the fake answers (SELECT fields FROM object,
//! WHERE with AND/OR, =, !=, <, >, LIKE, IN, datetime literals, ORDER BY several fields, LIMIT),
//! parsed and matched against the tables of the parent module.
use super::*;

pub(crate) fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        // Nulls first, as SOQL's default NULLS FIRST for ascending order.
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        // Datetimes (stored `2026-12-07T10:00:00.000+0000`, literals `2026-12-07T10:00:00Z`)
        // compare as instants at second precision, as SOQL compares them (FACTS.md "REST API").
        (Value::String(x), Value::String(y)) => match (datetime_secs(x), datetime_secs(y)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => x.cmp(y),
        },
        _ => text(a).cmp(&text(b)),
    }
}

/// A Salesforce datetime in whole seconds, if the text is one.
pub fn datetime_secs(value: &str) -> Option<i64> {
    if value.len() < 20 || value.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    sfhooks::pipeline::time::parse_datetime(value)
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A parsed query.
#[derive(Debug)]
pub(crate) struct Soql {
    pub(crate) fields: Vec<String>,
    pub(crate) count: bool,
    pub(crate) object: String,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) order_by: Vec<(String, bool)>,
    pub(crate) limit: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) field: String,
    pub(crate) op: String,
    pub(crate) values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Word(String),
    Str(String),
    Sym(String),
}

pub(crate) fn tokenize(soql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = soql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("an unterminated string".into()),
                    Some('\\') => {
                        if let Some(n) = chars.get(i + 1) {
                            s.push(*n);
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        s.push(*other);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Str(s));
        } else if "(),".contains(c) {
            tokens.push(Token::Sym(c.to_string()));
            i += 1;
        } else if "=!<>".contains(c) {
            let mut op = c.to_string();
            if chars.get(i + 1) == Some(&'=') || (c == '<' && chars.get(i + 1) == Some(&'>')) {
                op.push(chars[i + 1]);
                i += 1;
            }
            tokens.push(Token::Sym(op));
            i += 1;
        } else if c.is_alphanumeric() || "_.:-+".contains(c) {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_.:-+".contains(chars[i])) {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            return Err(format!("the character {c:?}"));
        }
    }
    Ok(tokens)
}

impl Soql {
    pub(crate) fn parse(soql: &str) -> Result<Soql, String> {
        let tokens = tokenize(soql)?;
        let mut p = 0;
        let word = |t: Option<&Token>, w: &str| matches!(t, Some(Token::Word(x)) if x.eq_ignore_ascii_case(w));
        if !word(tokens.get(p), "SELECT") {
            return Err("no SELECT".into());
        }
        p += 1;
        let mut fields = Vec::new();
        let mut count = false;
        loop {
            match tokens.get(p) {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("COUNT") => {
                    if tokens.get(p + 1) != Some(&Token::Sym("(".into()))
                        || tokens.get(p + 2) != Some(&Token::Sym(")".into()))
                    {
                        return Err("only COUNT() is understood".into());
                    }
                    count = true;
                    p += 3;
                }
                Some(Token::Word(w)) => {
                    fields.push(w.clone());
                    p += 1;
                }
                other => return Err(format!("a field list that has {other:?}")),
            }
            if tokens.get(p) == Some(&Token::Sym(",".into())) {
                p += 1;
                continue;
            }
            break;
        }
        if !word(tokens.get(p), "FROM") {
            return Err("no FROM after the fields".into());
        }
        let Some(Token::Word(object)) = tokens.get(p + 1) else {
            return Err("no object after FROM".into());
        };
        let object = object.clone();
        p += 2;
        let mut conditions = Vec::new();
        if word(tokens.get(p), "WHERE") {
            p += 1;
            loop {
                let Some(Token::Word(field)) = tokens.get(p) else {
                    return Err("a condition without a field".into());
                };
                p += 1;
                let op = match tokens.get(p) {
                    Some(Token::Sym(s))
                        if ["=", "!=", "<>", "<", "<=", ">", ">="].contains(&s.as_str()) =>
                    {
                        s.replace("<>", "!=")
                    }
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("LIKE") => "LIKE".into(),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => "IN".into(),
                    Some(Token::Word(w))
                        if w.eq_ignore_ascii_case("NOT") && word(tokens.get(p + 1), "IN") =>
                    {
                        p += 1;
                        "NOT IN".into()
                    }
                    other => return Err(format!("the operator {other:?}")),
                };
                p += 1;
                let mut values = Vec::new();
                if op.ends_with("IN") {
                    if tokens.get(p) != Some(&Token::Sym("(".into())) {
                        return Err("IN without (".into());
                    }
                    p += 1;
                    loop {
                        values.push(literal(tokens.get(p))?);
                        p += 1;
                        match tokens.get(p) {
                            Some(Token::Sym(s)) if s == "," => p += 1,
                            Some(Token::Sym(s)) if s == ")" => {
                                p += 1;
                                break;
                            }
                            other => return Err(format!("{other:?} in an IN list")),
                        }
                    }
                } else {
                    values.push(literal(tokens.get(p))?);
                    p += 1;
                }
                conditions.push(Condition {
                    field: field.clone(),
                    op,
                    values,
                });
                if word(tokens.get(p), "AND") {
                    p += 1;
                    continue;
                }
                break;
            }
        }
        let mut order_by = Vec::new();
        if word(tokens.get(p), "ORDER") && word(tokens.get(p + 1), "BY") {
            p += 2;
            loop {
                let Some(Token::Word(field)) = tokens.get(p) else {
                    return Err("ORDER BY without a field".into());
                };
                p += 1;
                let mut descending = false;
                if word(tokens.get(p), "DESC") {
                    descending = true;
                    p += 1;
                } else if word(tokens.get(p), "ASC") {
                    p += 1;
                }
                order_by.push((field.clone(), descending));
                if tokens.get(p) == Some(&Token::Sym(",".into())) {
                    p += 1;
                    continue;
                }
                break;
            }
        }
        let mut limit = None;
        if word(tokens.get(p), "LIMIT") {
            let Some(Token::Word(n)) = tokens.get(p + 1) else {
                return Err("LIMIT without a number".into());
            };
            limit = Some(n.parse().map_err(|_| format!("LIMIT {n}"))?);
            p += 2;
        }
        if p != tokens.len() {
            return Err(format!("{:?} after the query", &tokens[p..]));
        }
        Ok(Soql {
            fields,
            count,
            object,
            conditions,
            order_by,
            limit,
        })
    }

    pub(crate) fn matches(&self, record: &Value) -> bool {
        self.conditions.iter().all(|c| {
            let actual = lookup(record, &c.field);
            match c.op.as_str() {
                "=" => equal(&actual, &c.values[0]),
                "!=" => !equal(&actual, &c.values[0]),
                "LIKE" => like(&text(&actual), &text(&c.values[0])),
                "IN" => c.values.iter().any(|v| equal(&actual, v)),
                "NOT IN" => !c.values.iter().any(|v| equal(&actual, v)),
                op => {
                    if actual.is_null() {
                        return false;
                    }
                    let ordering = compare(&actual, &c.values[0]);
                    match op {
                        "<" => ordering.is_lt(),
                        "<=" => ordering.is_le(),
                        ">" => ordering.is_gt(),
                        _ => ordering.is_ge(),
                    }
                }
            }
        })
    }
}

pub(crate) fn literal(token: Option<&Token>) -> Result<Value, String> {
    match token {
        Some(Token::Str(s)) => Ok(Value::String(s.clone())),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Value::Null),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        Some(Token::Word(w)) => match w.parse::<f64>() {
            Ok(n) => Ok(json!(n)),
            // Datetime literals (2026-12-06T10:15:30Z) compare as text, as stored.
            Err(_) if w.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                Ok(Value::String(w.clone()))
            }
            Err(_) => Err(format!(
                "the value {w} (bind variables and date literals are not understood)"
            )),
        },
        other => Err(format!("the value {other:?}")),
    }
}

/// SOQL `=`: strings compare case-insensitively, as SOQL does.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// SOQL `LIKE`: `%` any run, `_` one character, case-insensitive.
pub(crate) fn like(value: &str, pattern: &str) -> bool {
    pub(crate) fn go(v: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| go(&v[i..], rest)),
            Some(('_', rest)) => !v.is_empty() && go(&v[1..], rest),
            Some((c, rest)) => {
                v.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(&v[1..], rest)
            }
        }
    }
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&v, &p)
}
