//! What the binary's test files share: generated order events, running
//! the binary, reading a tree of files, a read-only user of the test Redis
//! server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const HEADER: &str = "order_id,order_timestamp,cpf,chargeback_timestamp\n";

/// `n` orders of 4,000 users over the 60 days from 2020-01-01, from a fixed
/// linear congruential sequence: the same bytes on every run.
pub fn events(n: usize, seed: u64, first_id: usize) -> String {
    let mut state = seed;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut out = String::with_capacity(n * 48);
    for i in 0..n {
        let user = next() % 4_000;
        let at = start + chrono::Duration::seconds((next() % (60 * 86_400)) as i64);
        out.push_str(&format!(
            "o{},{},u{user},\n",
            first_id + i,
            at.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    out
}

pub fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file under `dir`, by path relative to it, with its bytes.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Fails naming the files that differ between two listings (not their
/// bytes, which would bury the names).
pub fn assert_same_files(
    now: &BTreeMap<PathBuf, Vec<u8>>,
    expected: &BTreeMap<PathBuf, Vec<u8>>,
    what: &str,
) {
    let differ: Vec<&PathBuf> = now
        .keys()
        .chain(expected.keys())
        .filter(|k| now.get(*k) != expected.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: {} of {} files differ: {:?}",
        differ.len(),
        expected.len(),
        &differ[..differ.len().min(10)]
    );
}

/// The value of a test server's variable, or a panic saying how to start
/// the server: a test never passes without its server.
pub fn test_server(variable: &str, server: &str) -> String {
    match std::env::var(variable) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => panic!("set {variable} (run `eval \"$(scripts/servers.sh start {server})\"`)"),
    }
}

/// Runs CQL on the test Cassandra, as an operator would with `cqlsh`.
pub fn cql(statement: &str) {
    let node = test_server("FEATURESTORE_TEST_CASSANDRA", "cassandra");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_node(node)
            .build()
            .await
            .expect("the test server accepts a session");
        session
            .query_unpaged(statement, ())
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    });
}

/// A user `user` of the test Redis server that may read `prefix`'s keys and
/// load scripts, but not write; removed with those keys when dropped.
pub struct ReadOnlyRedis {
    server: String,
    user: String,
    prefix: String,
    /// The user's URL, with the prefix.
    pub url: String,
}

impl ReadOnlyRedis {
    pub fn new(server: &str, prefix: &str, user: &str) -> Self {
        let user = user.to_string();
        let mut admin = Self::admin(server);
        redis::cmd("ACL")
            .arg(&["SETUSER", user.as_str(), "on", ">secret", "resetkeys"])
            .arg(format!("~{prefix}*"))
            .arg(&[
                "resetchannels",
                "-@all",
                "+@read",
                "+@connection",
                "+script|load",
            ])
            .query::<()>(&mut admin)
            .unwrap();
        let host = server.trim_start_matches("redis://").trim_end_matches('/');
        ReadOnlyRedis {
            url: format!("redis://{user}:secret@{host}/?prefix={prefix}"),
            server: server.to_string(),
            user,
            prefix: prefix.to_string(),
        }
    }

    fn admin(server: &str) -> redis::Connection {
        redis::Client::open(server)
            .and_then(|c| c.get_connection())
            .expect("the test Redis server answers")
    }
}

impl Drop for ReadOnlyRedis {
    fn drop(&mut self) {
        let mut admin = Self::admin(&self.server);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut admin)
            .unwrap_or_default();
        let _: redis::RedisResult<()> = redis::cmd("ACL")
            .arg(&["DELUSER", self.user.as_str()])
            .query(&mut admin);
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut admin);
        }
    }
}
