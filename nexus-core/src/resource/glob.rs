//! Stream globs: `*` matches any run of characters, `?` exactly one; everything else is literal.

use std::fmt;

/// A validated glob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Glob(String);

impl Glob {
    /// Checks `s` (non-empty, at most 255 characters).
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.chars().count() > 255 {
            return Err("a stream glob must be 1 to 255 characters long".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// `*`: every stream.
    #[must_use]
    pub fn any() -> Self {
        Self("*".into())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the glob has no wildcard.
    #[must_use]
    pub fn is_exact(&self) -> bool {
        !self.0.contains(['*', '?'])
    }

    /// How specific the glob is: exact names first, then by the number of literal characters.
    #[must_use]
    pub fn specificity(&self) -> (bool, usize) {
        (
            self.is_exact(),
            self.0.chars().filter(|c| !matches!(c, '*' | '?')).count(),
        )
    }

    /// The characters before the first wildcard (all of an exact glob).
    #[must_use]
    pub fn literal_prefix(&self) -> &str {
        self.0
            .find(['*', '?'])
            .map_or(self.0.as_str(), |i| &self.0[..i])
    }

    /// The characters after the last wildcard (all of an exact glob).
    #[must_use]
    pub fn literal_suffix(&self) -> &str {
        self.0
            .rfind(['*', '?'])
            .map_or(self.0.as_str(), |i| &self.0[i + 1..])
    }

    /// Whether `text` matches. ASCII pattern and text (the usual case) match byte by byte
    /// without allocating; otherwise by characters, so `?` is one character.
    #[must_use]
    pub fn matches(&self, text: &str) -> bool {
        if self.0.is_ascii() && text.is_ascii() {
            return wildcard(self.0.as_bytes(), text.as_bytes(), b'?', b'*');
        }
        let p: Vec<char> = self.0.chars().collect();
        let t: Vec<char> = text.chars().collect();
        wildcard(&p, &t, '?', '*')
    }

    /// Whether some string matches both globs.
    #[must_use]
    pub fn overlaps(&self, other: &Glob) -> bool {
        let a: Vec<char> = self.0.chars().collect();
        let b: Vec<char> = other.0.chars().collect();
        // reach[i][j]: prefixes a[..i] and b[..j] can match a common string.
        let mut reach = vec![vec![false; b.len() + 1]; a.len() + 1];
        reach[0][0] = true;
        for i in 0..=a.len() {
            for j in 0..=b.len() {
                if !reach[i][j] {
                    continue;
                }
                let (ca, cb) = (a.get(i), b.get(j));
                if ca == Some(&'*') {
                    reach[i + 1][j] = true; // `*` matches nothing more
                    if j < b.len() {
                        reach[i][j + 1] = true; // `*` absorbs b's next symbol
                    }
                }
                if cb == Some(&'*') {
                    reach[i][j + 1] = true;
                    if i < a.len() {
                        reach[i + 1][j] = true;
                    }
                }
                if let (Some(&x), Some(&y)) = (ca, cb)
                    && (x == y || x == '?' || y == '?')
                {
                    reach[i + 1][j + 1] = true;
                }
            }
        }
        reach[a.len()][b.len()]
    }
}

/// Iterative wildcard matching with one backtrack point: O(|p|·|t|) worst case.
fn wildcard<T: Copy + PartialEq>(p: &[T], t: &[T], one: T, any: T) -> bool {
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == any {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == any)
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for Glob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Glob {
        Glob::parse(s).expect("glob")
    }

    #[test]
    fn matching() {
        assert!(g("logs-*").matches("logs-app"));
        assert!(g("logs-*").matches("logs-"));
        assert!(!g("logs-*").matches("metrics"));
        assert!(g("a?c").matches("abc"));
        assert!(g("*").matches(""));
        assert!(g("*a*b").matches("xxaxxb"));
        assert!(!g("*a*b").matches("xxbxxa"));
        assert!(
            g("h?llo").matches("héllo"),
            "? is one character, not one byte"
        );
        assert!(!g("h?llo").matches("hééllo"));
        assert_eq!(g("logs-*-x").literal_prefix(), "logs-");
        assert_eq!(g("a?b").literal_prefix(), "a");
        assert_eq!(g("exact").literal_prefix(), "exact");
        assert_eq!(g("*-prod").literal_suffix(), "-prod");
        assert_eq!(g("a*b?cd").literal_suffix(), "cd");
        assert_eq!(g("ab*").literal_suffix(), "");
    }

    #[test]
    fn overlap() {
        assert!(g("logs-*").overlaps(&g("*-app")));
        assert!(g("logs-*").overlaps(&g("logs-app")));
        assert!(!g("logs-*").overlaps(&g("metrics-*")));
        assert!(!g("a").overlaps(&g("b")));
        assert!(g("a?").overlaps(&g("*b")));
        assert!(!g("a?").overlaps(&g("abc")));
    }

    proptest::proptest! {
        #[test]
        fn overlap_agrees_with_a_witness(a in "[ab*?]{0,5}", b in "[ab*?]{0,5}", t in "[ab]{0,6}") {
            let (ga, gb) = (Glob(a), Glob(b));
            if ga.matches(&t) && gb.matches(&t) {
                proptest::prop_assert!(ga.overlaps(&gb));
            }
        }
    }
}
