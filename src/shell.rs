//! Words quoted for a POSIX shell, for the commands sfhooks prints for the user to copy.
use std::borrow::Cow;

/// `word` as one POSIX shell word (unchanged when it needs no quoting), by the `shlex` crate.
/// A word holding a NUL byte, which no command-line argument or path can hold, is returned as is.
pub fn quote(word: &str) -> Cow<'_, str> {
    shlex::try_quote(word).unwrap_or(Cow::Borrowed(word))
}

/// The words joined into one shell command line, each quoted by [`quote`].
pub fn join<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words.into_iter().map(quote).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_the_shell_would_split_or_expand() {
        assert_eq!(quote("a/b.zip"), "a/b.zip");
        assert_eq!(
            quote("https://hooks.example.com/x"),
            "https://hooks.example.com/x"
        );
        assert_eq!(quote("out dir/s.zip"), "'out dir/s.zip'");
        assert_eq!(quote(""), "''");
        assert_eq!(
            join(["sfhooks", "--out", "a b", "$HOME"]),
            "sfhooks --out 'a b' '$HOME'"
        );
        // The quoted form reads back as the same word.
        for word in ["it's", "a \"b\" $c `d`", "tab\there", "x\ny"] {
            assert_eq!(
                shlex::split(&quote(word)),
                Some(vec![word.to_string()]),
                "{word}"
            );
        }
    }
}
