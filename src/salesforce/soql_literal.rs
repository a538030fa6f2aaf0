//! SOQL string literals, as SOQL and Anonymous Apex both read them: the escapes `\\`, `\'`,
//! `\n`, `\r` and `\t` mean the same in both (SOQL and SOSL Reference, "Quoted String Escape
//! Sequences"; Apex Developer Guide, "String"), so the queries of `status`, `replay` and `poll`
//! and the Anonymous Apex of the deploy's job handling quote with the same function.

/// A SOQL string literal, quotes included (SOQL escapes `\'` and `\\`; SOQL and SOSL Reference,
/// "Quoted String Escape Sequences").
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if !push_escape(&mut out, c) {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Pushes the escape of `c` if SOQL and Apex both escape it (`\\`, `\'`, `\n`, `\r`, `\t`), and
/// says whether it did. Generated Apex escapes more on top (`render::apex_string_literal`).
pub fn push_escape(out: &mut String, c: char) -> bool {
    let escape = match c {
        '\\' => "\\\\",
        '\'' => "\\'",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => return false,
    };
    out.push_str(escape);
    true
}

/// A LIKE pattern literal matching everything that starts with `prefix`: `_` and `%` become
/// SOQL's LIKE escapes `\_` and `\%` (SOQL and SOSL Reference, "Comparison Operators").
pub fn starts_with(prefix: &str) -> String {
    let quoted = quoted(prefix);
    let inner = &quoted[1..quoted.len() - 1];
    format!("'{}%'", inner.replace('_', "\\_").replace('%', "\\%"))
}
