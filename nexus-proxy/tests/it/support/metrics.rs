//! Reads the admin port's Prometheus text.

use std::net::SocketAddr;

use super::raw;

/// One sample: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// One scrape of `/metrics`.
#[derive(Debug)]
pub struct Scrape {
    pub text: String,
    samples: Vec<Sample>,
}

/// `GET /metrics` on the admin port.
pub async fn scrape(admin: SocketAddr) -> Scrape {
    let res = raw::get(admin, "/metrics").await;
    assert_eq!(res.status, 200, "/metrics: {}", res.text());
    Scrape::parse(res.text())
}

impl Scrape {
    pub fn parse(text: String) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Self { text, samples }
    }

    /// The sum of every sample of `name` whose labels include `labels` (0 when none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, ls, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }

    /// Whether any sample of `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.trim().parse().ok()?;
    let (name, labels) = match head.split_once('{') {
        None => (head.to_owned(), Vec::new()),
        Some((name, rest)) => {
            let rest = rest.strip_suffix('}')?;
            let labels = rest
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_owned(), v.trim_end_matches('"').to_owned()))
                })
                .collect();
            (name.to_owned(), labels)
        }
    };
    Some((name, labels, value))
}
