//! Just enough of Apex's lexical rules to read generated Apex from Rust: comments dropped, string
//! literals taken out. `deploy` uses it to tell test classes from test helpers; the tests use it
//! to read the wire constants back out of the generated classes.

/// Apex source with comments removed and each string literal replaced by `'<n>'`, plus the
/// decoded literals (`<n>` indexes them). Enough of Apex's lexical rules for generated code.
pub fn split_literals(source: &str) -> (String, Vec<String>) {
    let mut code = String::new();
    let mut literals = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = '\0';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                code.push(' ');
            }
            '\'' => {
                let mut literal = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\'' => break,
                        '\\' => match chars.next() {
                            Some('n') => literal.push('\n'),
                            Some('r') => literal.push('\r'),
                            Some('t') => literal.push('\t'),
                            Some(other) => literal.push(other),
                            None => {}
                        },
                        c => literal.push(c),
                    }
                }
                code.push_str(&format!("'{}'", literals.len()));
                literals.push(literal);
            }
            c => code.push(c),
        }
    }
    (code, literals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_go_and_literals_are_numbered_and_decoded() {
        let (code, literals) =
            split_literals("// @IsTest\nString a = 'it\\'s\\n'; /* 'no' */ String b = '//';");
        assert_eq!(code, "\nString a = '0';   String b = '1';");
        assert_eq!(literals, ["it's\n", "//"]);
    }
}
