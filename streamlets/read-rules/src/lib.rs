//! `read-rules`: decides reads by key prefix from its parameters (see `streamlet.yaml`): deny,
//! serve from another store (by the host, or read by the streamlet itself), serve a generated
//! body, fail, or pass to the object store.

use std::io::Read;

use nexus_streamlet::source::{DataSource, GetRequest, PreGet, open};
use nexus_streamlet::{Context, Error, params};

struct ReadRules;

fn prefix(name: &str, key: &str) -> Result<Option<String>, Error> {
    Ok(params::get::<String>(name)?.filter(|p| key.starts_with(p.as_str())))
}

fn rewrite(key: &str, prefix: &str) -> Result<(String, String), Error> {
    let store = params::get::<String>("store")?
        .ok_or_else(|| Error::Rejected("read-rules: `store` is not set".into()))?;
    let to = params::get_or("sourceReplace", String::new())?;
    Ok((store, format!("{to}{}", &key[prefix.len()..])))
}

impl DataSource for ReadRules {
    fn pre_get(_: &Context, req: &GetRequest) -> Result<PreGet, Error> {
        let key = req.object.key.as_str();
        if prefix("denyPrefix", key)?.is_some() {
            let status = params::get_or("denyStatus", 403u16)?;
            return Ok(PreGet::Deny(status));
        }
        if let Some(p) = prefix("failPrefix", key)? {
            return Err(Error::Unavailable(format!("read-rules: {p} is failing")));
        }
        if let Some(p) = prefix("sourcePrefix", key)? {
            let (store, key) = rewrite(key, &p)?;
            return Ok(PreGet::ServeSource { store, key });
        }
        if let Some(p) = prefix("readPrefix", key)? {
            let (store, source_key) = rewrite(key, &p)?;
            return Ok(match open(&store, &source_key, req.range)? {
                Some(reader) => PreGet::ServeBody {
                    length: None,
                    body: Box::new(reader),
                },
                None => PreGet::Deny(404),
            });
        }
        if prefix("generatePrefix", key)?.is_some() {
            let text: String = params::get_or("text", "generated\n".to_owned())?;
            let repeat: u64 = params::get_or("repeat", 1)?;
            let length = text.len() as u64 * repeat;
            let body = Repeat {
                text: text.into_bytes(),
                left: repeat,
                at: 0,
            };
            return Ok(PreGet::ServeBody {
                length: Some(length),
                body: Box::new(body),
            });
        }
        Ok(PreGet::Pass)
    }
}

/// `text` `left` more times, streamed.
struct Repeat {
    text: Vec<u8>,
    left: u64,
    at: usize,
}

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 && !self.text.is_empty() {
            let take = (self.text.len() - self.at).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&self.text[self.at..self.at + take]);
            n += take;
            self.at += take;
            if self.at == self.text.len() {
                self.at = 0;
                self.left -= 1;
            }
        }
        Ok(n)
    }
}

nexus_streamlet::data_source_streamlet!(ReadRules);
