//! The options of a Redis online store, read from its URL.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::location::redact;

/// Where the rows go unless the URL says otherwise: one namespace per
/// application sharing a Redis database.
pub const DEFAULT_PREFIX: &str = "fs:";

/// Rows per pipelined round trip of a write: large enough that the round
/// trip is amortised, small enough that one reply stays a few hundred KB.
pub const DEFAULT_WRITE_CHUNK: usize = 1000;

/// Options of a [`RedisStore`](super::RedisStore).
///
/// `redis://[user:password@]host[:port][/db][?prefix=P]` (`rediss://` for
/// TLS): everything but `prefix` is the `redis` crate's own URL grammar.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The server URL, without the options read here (it may hold a
    /// password: never print it, print [`RedisConfig::shown`]).
    pub url: String,
    /// Prepended to every key name.
    pub prefix: String,
    /// Rows per pipelined round trip of a write.
    pub write_chunk: usize,
    /// How long connecting may take before the store is reported
    /// unreachable.
    pub connect_timeout: Duration,
    /// How long a reply may take.
    pub response_timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.shown())
            .field("prefix", &self.prefix)
            .field("write_chunk", &self.write_chunk)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

impl RedisConfig {
    /// Reads the options of `url`: `prefix` (default [`DEFAULT_PREFIX`]) and
    /// `write_chunk` from its query.
    pub fn from_url(url: &str) -> Result<Self> {
        let invalid = |message: String| Error::Location {
            location: redact(url),
            message,
        };
        let mut parsed = Url::parse(url).map_err(|e| invalid(format!("not a Redis URL: {e}")))?;
        let mut config = RedisConfig {
            url: String::new(),
            prefix: DEFAULT_PREFIX.to_string(),
            write_chunk: DEFAULT_WRITE_CHUNK,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(30),
        };
        let mut rest = Vec::new();
        for (k, v) in parsed.query_pairs() {
            match &*k {
                "prefix" => config.prefix = v.into_owned(),
                "write_chunk" => {
                    config.write_chunk = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        invalid(format!("`write_chunk={v}` is not a positive count"))
                    })?;
                }
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        if rest.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(rest);
        }
        config.url = parsed.to_string();
        Ok(config)
    }

    /// The URL for messages, without the password.
    pub fn shown(&self) -> String {
        redact(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_from_the_query_and_removed() {
        let c = RedisConfig::from_url("redis://u:pw@h:1/2?prefix=app%3A&write_chunk=10").unwrap();
        assert_eq!(c.url, "redis://u:pw@h:1/2");
        assert_eq!(c.prefix, "app:");
        assert_eq!(c.write_chunk, 10);
        assert_eq!(c.shown(), "redis://***@h:1/2");
        assert!(!format!("{c:?}").contains("pw"));
        let c = RedisConfig::from_url("rediss://h/0?protocol=resp3").unwrap();
        assert_eq!(c.url, "rediss://h/0?protocol=resp3");
        assert_eq!(c.prefix, DEFAULT_PREFIX);
        assert!(RedisConfig::from_url("redis://h?write_chunk=0").is_err());
    }
}
