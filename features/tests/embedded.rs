//! The default online store (`sqlite://`) shared by processes, with the real
//! binary: lookups answer while a run writes, runs of different feature sets
//! over one file both complete, and neither a reader nor a writer of another
//! process stops a run. The other processes here are the binary itself or
//! a plain SQLite connection holding the file's locks, as any program can.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use features::UserOrders;
use featurestore_runtime::store::online::{BlockingOnlineStore, OpenMode, Record, SqliteStore};
use featurestore_runtime::FeatureSet;
use rusqlite::Connection;

#[allow(dead_code)] // what the other test files share
mod support;
use support::{events, succeed, HEADER};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/legiti")
        .join(name)
}

fn fixture(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The binary on stores in `dir` (the online store `dir/online.sqlite`),
/// reading orders from `input`, with nothing from the caller's environment.
fn features(dir: &Path, input: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FEATURESTORE_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .arg("--online-url")
        .arg(format!("sqlite://{}", dir.join("online.sqlite").display()))
        .arg("--source")
        .arg(format!("order_events={}", input.display()));
    cmd
}

fn execute<'a>(cmd: &'a mut Command, feature_set: &str, end: &str) -> &'a mut Command {
    cmd.args(["execute", feature_set, "--end-date", end, "--format", "csv"])
}

fn get(dir: &Path, input: &Path, key: &str) -> Output {
    features(dir, input)
        .args(["get", "user_orders", key, "--format", "csv"])
        .output()
        .expect("the binary runs")
}

/// The header and the row of `key` of the chargeback fixture `name`.
fn fixture_row(name: &str, key: &str) -> String {
    let text = fixture(name);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let row = lines.find(|l| l.starts_with(&format!("{key},"))).unwrap();
    format!("{header}\n{row}\n")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Spawns `cmd` with `-v` logs and returns the child and its stderr lines,
/// as they come.
fn spawn_logged(cmd: &mut Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .arg("-v")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a line containing `what`, for at most two minutes; returns the
/// lines read until then.
fn wait_for(lines: &mpsc::Receiver<String>, what: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let found = line.contains(what);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("no `{what}` in the run's log: {seen:#?}");
}

/// A connection of this test process to the store file, as any other
/// program may hold one.
fn connect(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join("online.sqlite")).unwrap();
    conn.busy_timeout(Duration::from_secs(60)).unwrap();
    conn
}

#[test]
fn gets_from_another_process_all_answer_throughout_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.csv");
    let large = dir.path().join("large.csv");
    std::fs::write(&small, format!("{HEADER}{}", events(20_000, 3, 0))).unwrap();
    // Long enough in a debug build for many lookups to fall inside it.
    std::fs::write(&large, format!("{HEADER}{}", events(200_000, 5, 0))).unwrap();
    succeed(execute(
        &mut features(dir.path(), &small),
        "user_orders",
        "2020-03-01",
    ));

    // Its output goes to files: a pipe nobody reads during the run would
    // stop it once full.
    let (printed, errors) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut run = execute(
        &mut features(dir.path(), &large),
        "user_orders",
        "2020-03-01",
    )
    .stdout(std::fs::File::create(&printed).unwrap())
    .stderr(std::fs::File::create(&errors).unwrap())
    .spawn()
    .unwrap();
    let mut during = 0;
    let mut failures = Vec::new();
    let status = loop {
        let out = get(dir.path(), &small, "u1");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let answered = out.status.success()
            && text.lines().count() == 2
            && text.lines().nth(1).is_some_and(|l| l.starts_with("u1,"));
        if !answered {
            failures.push(format!(
                "{:?}: {text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        during += 1;
    };
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&errors).unwrap()
    );
    assert!(
        failures.is_empty(),
        "lookups failed during the run: {failures:#?}"
    );
    assert!(during >= 3, "only {during} lookups fell inside the run");
    // The last lookup after the run reads the row the run printed for u1.
    let printed = std::fs::read_to_string(&printed).unwrap();
    let row = printed.lines().find(|l| l.starts_with("u1,")).unwrap();
    let after = stdout(&get(dir.path(), &small, "u1"));
    assert_eq!(after.lines().nth(1), Some(row));
}

#[test]
fn runs_of_two_feature_sets_over_one_file_proceed_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_path("input.csv");
    // The store file exists, and this process holds its write lock while
    // both runs start: each must wait for it at its online write, not fail.
    SqliteStore::open(&dir.path().join("online.sqlite")).unwrap();
    let conn = connect(dir.path());
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();

    let mut runs: Vec<(Child, mpsc::Receiver<String>)> = ["user_orders", "user_chargebacks"]
        .iter()
        .map(|fs| spawn_logged(execute(&mut features(dir.path(), &input), fs, "2020-07-17")))
        .collect();
    for (_, lines) in &runs {
        wait_for(lines, "historical store written");
    }
    std::thread::sleep(Duration::from_millis(500));
    for (child, _) in &mut runs {
        assert!(
            child.try_wait().unwrap().is_none(),
            "a run ended while another writer held the store"
        );
    }
    conn.execute_batch("COMMIT").unwrap();

    let expected = ["user_orders_online.csv", "user_chargebacks_online.csv"];
    for ((child, lines), expected) in runs.into_iter().zip(expected) {
        let out = child.wait_with_output().unwrap();
        let log: Vec<String> = lines.try_iter().collect();
        assert!(out.status.success(), "{expected}: {log:#?}");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), fixture(expected));
    }
    // Both feature sets' rows are in the one file.
    assert_eq!(
        stdout(&get(dir.path(), &input, "x")),
        fixture_row("user_orders_online.csv", "x")
    );
    let chargebacks = features(dir.path(), &input)
        .args(["get", "user_chargebacks", "x", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&chargebacks),
        fixture_row("user_chargebacks_online.csv", "x")
    );
}

#[test]
fn a_reader_holding_a_read_transaction_does_not_block_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_path("input.csv");
    succeed(execute(
        &mut features(dir.path(), &input),
        "user_orders",
        "2020-07-17",
    ));
    // A reader opens a snapshot and keeps it.
    let reader = connect(dir.path());
    reader.execute_batch("BEGIN").unwrap();
    let runs_seen = |conn: &Connection| -> i64 {
        conn.query_row(
            "SELECT max(run) FROM \"feature_set:user_orders\"",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = runs_seen(&reader);

    // The corrected export: order `i` (x, 2020-07-16 14:00) is gone.
    let corrected = dir.path().join("corrected.csv");
    let text: String = fixture("input.csv")
        .lines()
        .filter(|l| !l.starts_with("i,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&corrected, text).unwrap();
    let started = Instant::now();
    succeed(execute(
        &mut features(dir.path(), &corrected),
        "user_orders",
        "2020-07-17",
    ));
    // Far below the 60 s a writer waits for a lock: it waited for none.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // The reader's snapshot is as it was; a new reader sees the run.
    assert_eq!(runs_seen(&reader), before);
    assert!(runs_seen(&connect(dir.path())) > before);
    // x's last event is now h (2020-07-15 02:00): on 2020-07-16 each window
    // holds it alone, and nothing changes before 2020-07-18.
    let header = fixture("user_orders_online.csv")
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        stdout(&get(dir.path(), &input, "x")),
        format!("{header}\nx,2020-07-16 00:00:00,1,1,1\n")
    );
    reader.execute_batch("COMMIT").unwrap();
}

#[test]
fn a_get_answers_while_another_process_holds_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_path("input.csv");
    succeed(execute(
        &mut features(dir.path(), &input),
        "user_orders",
        "2020-07-17",
    ));
    // A writer in the middle of a transaction that changes every row.
    let writer = connect(dir.path());
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let changed = writer
        .execute("UPDATE \"feature_set:user_orders\" SET row = x'00'", [])
        .unwrap();
    assert_eq!(changed, 3);
    let started = Instant::now();
    let out = get(dir.path(), &input, "x");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stdout(&out), fixture_row("user_orders_online.csv", "x"));
    writer.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_store_at_the_former_default_location_is_named_in_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::write(
        work.join("featurestore.toml"),
        format!(
            "[sources.order_events]\npath = \"{}\"\n",
            fixture_path("input.csv").display()
        ),
    )
    .unwrap();
    let bare = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
        for (k, _) in std::env::vars() {
            if k.starts_with("FEATURESTORE_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(work);
        cmd
    };
    // A store written at the former default location, redb.
    let former = work.join("data/online/online_store.redb");
    succeed(execute(
        bare()
            .arg("--online-url")
            .arg(format!("redb://{}", former.display())),
        "user_orders",
        "2020-07-17",
    ));
    assert!(former.is_file());

    // On the default store: the run warns, naming the old file, and fills
    // the new one.
    let out = succeed(execute(&mut bare(), "user_orders", "2020-07-17"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: {} is an online store of the former default (redb)",
            former.display()
        )),
        "{stderr}"
    );
    assert!(work.join("data/online/online_store.sqlite").is_file());
    let got = bare()
        .args(["get", "user_orders", "x", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(stdout(&got), fixture_row("user_orders_online.csv", "x"));
    assert!(String::from_utf8_lossy(&got.stderr).contains("former default"));
    // Chosen explicitly, the old file is used, without a warning.
    let explicit = bare()
        .arg("--online-url")
        .arg(format!("redb://{}", former.display()))
        .args(["get", "user_orders", "x", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&explicit),
        fixture_row("user_orders_online.csv", "x")
    );
    assert!(!String::from_utf8_lossy(&explicit.stderr).contains("warning"));
}

/// Orders of `users` users, one each on 2020-01-05 and, with `second`, one
/// more each on 2020-01-20: every user's latest row differs between the two.
fn orders_of_many_users(users: usize, second: bool) -> String {
    let mut out = String::from(HEADER);
    for u in 0..users {
        out.push_str(&format!("a{u},2020-01-05 10:00:00,u{u},\n"));
        if second {
            out.push_str(&format!("b{u},2020-01-20 10:00:00,u{u},\n"));
        }
    }
    out
}

fn online_rows(dir: &Path) -> BTreeMap<String, Record> {
    let store = BlockingOnlineStore::from(
        SqliteStore::open_with(&dir.join("online.sqlite"), OpenMode::Read).unwrap(),
    );
    store
        .scan(&UserOrders::SPEC)
        .unwrap()
        .into_iter()
        .map(|r| (r.key[0].to_string(), r))
        .collect()
}

/// A run's online write is transactions of 10,000 rows: a run killed after
/// the first leaves every row whole, old or new, is reported behind, and
/// the next run converges on an uninterrupted run's rows.
#[test]
fn a_run_killed_between_two_online_transactions_is_behind_and_repaired() {
    const USERS: usize = 25_000;
    let tmp = tempfile::tempdir().unwrap();
    let (old_input, new_input) = (tmp.path().join("old.csv"), tmp.path().join("new.csv"));
    std::fs::write(&old_input, orders_of_many_users(USERS, false)).unwrap();
    std::fs::write(&new_input, orders_of_many_users(USERS, true)).unwrap();
    let run = |dir: &Path, input: &Path| {
        let mut cmd = features(dir, input);
        execute(&mut cmd, "user_orders", "2020-02-01");
        cmd
    };
    let (reference, killed) = (tmp.path().join("reference"), tmp.path().join("killed"));
    for dir in [&reference, &killed] {
        succeed(&mut run(dir, &old_input));
    }
    let old = online_rows(&killed);
    succeed(&mut run(&reference, &new_input));
    let new = online_rows(&reference);
    assert_eq!((old.len(), new.len()), (USERS, USERS));

    let out = run(&killed, &new_input)
        .env("FEATURESTORE_FAIL_AT", "online:chunk-committed")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the run was not stopped");
    let left = online_rows(&killed);
    assert_eq!(left.len(), USERS);
    let renewed = left.iter().filter(|(k, r)| new[*k] == **r).count();
    let kept = left.iter().filter(|(k, r)| old[*k] == **r).count();
    // The first transaction's rows are new, the others old; none is neither.
    assert_eq!((renewed, kept), (10_000, USERS - 10_000));
    let status = features(&killed, &new_input)
        .args(["status", "user_orders"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(said.contains("behind"), "{said}");

    let rerun = succeed(&mut run(&killed, &new_input));
    let warned = String::from_utf8_lossy(&rerun.stderr);
    assert!(
        warned.contains("this run re-wrote those online rows"),
        "{warned}"
    );
    assert_eq!(online_rows(&killed), new);
    let status = features(&killed, &new_input)
        .args(["status", "user_orders"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0));
}
