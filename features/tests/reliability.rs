//! Failure atomicity of a run, with the real binary: a run killed at any
//! point leaves each historical partition entirely old or entirely new and
//! the online store entirely old or entirely new; running it again gives
//! exactly what an uninterrupted run gives. Also: a second run of a
//! feature set while one holds it is refused, and a bad input leaves every
//! store byte for byte as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use features::UserOrders;
use featurestore_runtime::store::online::{BlockingOnlineStore, EmbeddedStore, Record};
use featurestore_runtime::FeatureSet;

#[allow(dead_code)] // what the other test files share
mod support;
use support::{assert_same_files, events, files, succeed, ReadOnlyRedis, HEADER};

/// The binary on stores in `dir`, reading orders from `input`, with
/// `options` before the command.
fn features(dir: &Path, input: &Path, options: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.args(options)
        .arg("--historical-root")
        .arg(dir.join("historical"))
        .arg("--online-url")
        .arg(format!("redb://{}", dir.join("online.redb").display()))
        .arg("--source")
        .arg(format!("order_events={}", input.display()))
        .args([
            "execute",
            "feature_store.user_orders",
            "--end-date",
            "2020-03-01",
            "--format",
            "csv",
        ])
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_FAIL_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The day partitions of user_orders: `year=/month=/day=` → the file's bytes.
fn partitions(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files(&dir.join("historical/cpf/user_orders"))
        .into_iter()
        .filter(|(p, _)| p.starts_with("year=2020"))
        .collect()
}

fn online(dir: &Path) -> Vec<Record> {
    BlockingOnlineStore::from(
        EmbeddedStore::open(&dir.join("online.redb"))
            .expect("the online store opens after a crash"),
    )
    .scan(&UserOrders::SPEC)
    .expect("the online store is readable")
}

/// Where the runs on the stores in `dir` spill (beside `dir`, not in it).
fn spill_root(dir: &Path) -> PathBuf {
    dir.with_extension("spill")
}

/// The spill directories left under the spill root of the stores in `dir`.
fn spills(dir: &Path) -> usize {
    std::fs::read_dir(spill_root(dir)).map_or(0, |d| d.count())
}

fn copy_dir(from: &Path, to: &Path) {
    for (rel, bytes) in files(from) {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
}

#[test]
fn a_run_killed_anywhere_leaves_old_or_new_state_and_a_rerun_converges() {
    killed_anywhere(&[]);
}

#[test]
fn a_run_split_by_key_killed_anywhere_leaves_old_or_new_state_and_a_rerun_converges() {
    // 8 MiB: the 10 MB export is read in pieces, in 8 parts.
    killed_anywhere(&["--memory-budget", "8MiB"]);
}

/// Kills runs of `features` with `options` at every crash point, and checks
/// each leaves the stores old or new, and that a rerun converges.
fn killed_anywhere(options: &[&str]) {
    // Each store's runs spill under a folder of the test's own, not the
    // machine's temporary folder, where each killed run would leave its
    // spill behind.
    let features = |dir: &Path, input: &Path| {
        let spill = spill_root(dir);
        std::fs::create_dir_all(&spill).unwrap();
        let spill = spill.display().to_string();
        let mut options = options.to_vec();
        options.extend(["--spill-dir", spill.as_str()]);
        features(dir, input, &options)
    };
    let tmp = tempfile::tempdir().unwrap();
    let old_input = tmp.path().join("old.csv");
    let new_input = tmp.path().join("new.csv");
    let old_events = events(200_000, 7, 0);
    std::fs::write(&old_input, format!("{HEADER}{old_events}")).unwrap();
    // The new export has every old order and 40,000 more, over the same days.
    std::fs::write(
        &new_input,
        format!("{HEADER}{old_events}{}", events(40_000, 11, 200_000)),
    )
    .unwrap();

    // The reference states: after the old run, then after the new one.
    let old = tmp.path().join("old");
    succeed(&mut features(&old, &old_input));
    let new = tmp.path().join("new");
    copy_dir(&old, &new);
    let new_out = succeed(&mut features(&new, &new_input));
    // A run that succeeds removes its spill.
    assert_eq!(
        spills(&old) + spills(&new),
        0,
        "a finished run left its spill"
    );
    let (old_parts, new_parts) = (partitions(&old), partitions(&new));
    let (old_online, new_online) = (online(&old), online(&new));
    // Days 2020-01-01 to 2020-03-01: one partition each, in both states.
    assert_eq!(old_parts.len(), 61);
    assert_eq!(new_parts.len(), 61);
    let changed = old_parts
        .iter()
        .filter(|(p, bytes)| new_parts[*p] != **bytes)
        .count();
    assert!(changed >= 50, "only {changed} partitions differ");
    assert_ne!(old_online, new_online);

    let points = [
        "source:read",
        "historical:staged",
        "historical:swapped:1",
        "historical:swapped:30",
        "historical:deleted",
        "online:before-commit",
        "online:committed",
    ];
    let mut kills: Vec<(String, Option<Duration>)> =
        points.iter().map(|p| (p.to_string(), None)).collect();
    // And plain SIGKILLs at moments that fall wherever the run is.
    kills.push(("sigkill".to_string(), Some(Duration::from_millis(300))));
    kills.push(("sigkill".to_string(), Some(Duration::from_millis(1500))));
    for (i, (point, after)) in kills.iter().enumerate() {
        let dir = tmp.path().join(format!("kill{i}"));
        copy_dir(&old, &dir);
        let mut cmd = features(&dir, &new_input);
        let status = match after {
            None => {
                cmd.env("FEATURESTORE_FAIL_AT", point)
                    .output()
                    .unwrap()
                    .status
            }
            Some(after) => {
                let mut child = cmd.spawn().unwrap();
                std::thread::sleep(*after);
                let _ = child.kill();
                child.wait().unwrap()
            }
        };
        if after.is_none() {
            assert!(!status.success(), "{point}: the run was not stopped");
        }

        let parts = partitions(&dir);
        for (day, bytes) in &parts {
            assert!(
                old_parts.get(day) == Some(bytes) || new_parts.get(day) == Some(bytes),
                "{point}: partition {} is neither the old nor the new one",
                day.display()
            );
        }
        assert_eq!(parts.len(), 61, "{point}: a partition was lost");
        let stored = online(&dir);
        assert!(
            stored == old_online || stored == new_online,
            "{point}: the online store is neither the old nor the new state"
        );
        match point.as_str() {
            "source:read" | "historical:staged" => {
                assert_eq!(parts, old_parts, "{point}");
                assert_eq!(stored, old_online, "{point}");
            }
            "historical:swapped:30" => {
                let new_count = parts.iter().filter(|(d, b)| new_parts[*d] == **b).count();
                assert!((30..61).contains(&new_count), "{point}: {new_count} new");
                assert_eq!(stored, old_online, "{point}");
            }
            "online:before-commit" => {
                assert_eq!(parts, new_parts, "{point}");
                assert_eq!(stored, old_online, "{point}");
            }
            "online:committed" => {
                assert_eq!(parts, new_parts, "{point}");
                assert_eq!(stored, new_online, "{point}");
            }
            _ => {}
        }

        // The same run again converges to the uninterrupted result, and
        // leaves no staged file behind, nor a spill of its own (the killed
        // run's is left, to be deleted: RELIABILITY.md).
        let left = spills(&dir);
        assert!(left <= 1, "{point}: {left} spill directories");
        let out = succeed(&mut features(&dir, &new_input));
        assert_eq!(spills(&dir), left, "{point}: the rerun left its spill");
        assert_eq!(out.stdout, new_out.stdout, "{point}: rerun output");
        assert_eq!(partitions(&dir), new_parts, "{point}: rerun partitions");
        assert_eq!(online(&dir), new_online, "{point}: rerun online store");
        let staged = files(&dir.join("historical/cpf/user_orders/_staging"));
        assert!(staged.is_empty(), "{point}: staged files left: {staged:?}");
    }
}

/// The binary on stores in `dir`, with no configuration from the caller.
fn bare(dir: &Path) -> Command {
    let mut cmd = bare_historical(dir);
    cmd.arg("--online-url")
        .arg(format!("redb://{}", dir.join("online.redb").display()));
    cmd
}

/// The binary on the historical store in `dir`, with no configuration from
/// the caller: the online store is given by the caller.
fn bare_historical(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS")
        .env_remove("FEATURESTORE_FAIL_AT");
    cmd
}

/// Stores in a fresh directory holding a run of user_orders on `input`.
fn stores_with_a_good_run(input: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.csv");
    std::fs::write(&path, input).unwrap();
    succeed(bare(dir.path()).args([
        "--source",
        &format!("order_events={}", path.display()),
        "execute",
        "user_orders",
        "--end-date",
        "2020-05-05",
    ]));
    (dir, path)
}

/// Both stores: the historical files byte for byte, and the online rows of
/// both feature sets (redb rewrites its file header whenever the file is
/// opened and closed, so the online store is compared by content).
fn store_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = files(&dir.join("historical"));
    out.retain(|p, _| !p.starts_with("_locks"));
    let store = BlockingOnlineStore::from(EmbeddedStore::open(&dir.join("online.redb")).unwrap());
    for spec in [&UserOrders::SPEC, &features::UserChargebacks::SPEC] {
        let rows = format!("{:?}", store.scan(spec).unwrap());
        out.insert(
            PathBuf::from(format!("online:{}", spec.name)),
            rows.into_bytes(),
        );
    }
    out
}

fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "exit {:?}, stdout: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

const GOOD: &str = "order_id,order_timestamp,cpf,chargeback_timestamp\n\
a,2020-05-01 10:00:00,x,\n\
b,2020-05-02 10:00:00,y,\n";

#[test]
fn bad_input_through_the_cli_names_file_line_and_column_and_changes_no_store() {
    let (dir, input) = stores_with_a_good_run(GOOD);
    let before = store_files(dir.path());
    assert!(before.len() > 4, "{:?}", before.keys());
    let cases: [(&str, &str); 4] = [
        (
            "a,2020-05-01 10:00:00,x,\nb,2020-05-02,y\n",
            "line 3: 3 field(s), expected 4 as in the header",
        ),
        (
            "a,2020-05-01 10:00:00,x,\nb,2020-05-02 25:00:00,y,\n",
            "line 3: column `order_timestamp`: `2020-05-02 25:00:00` is not a timestamp",
        ),
        (
            "a,2020-05-01 10:00:00,,\n",
            "line 2: column `cpf` is empty, expected text",
        ),
        ("", "no rows: the file has no data"),
    ];
    for (rows, message) in cases {
        std::fs::write(&input, format!("{HEADER}{rows}")).unwrap();
        let err = fails(bare(dir.path()).args([
            "--source",
            &format!("order_events={}", input.display()),
            "execute",
            "user_orders",
            "--end-date",
            "2020-05-05",
        ]));
        assert!(
            err.contains(&format!(
                "error: source `order_events` ({})",
                input.display()
            )),
            "{err}"
        );
        assert!(err.contains(message), "expected {message:?} in {err}");
        assert_same_files(&store_files(dir.path()), &before, message);
    }
}

#[test]
fn bad_dates_are_refused_before_any_store_is_opened() {
    let (dir, input) = stores_with_a_good_run(GOOD);
    let before = store_files(dir.path());
    let source = format!("order_events={}", input.display());
    let cases: [(&[&str], &str); 4] = [
        (
            &["--end-date", "2020-5-5x"],
            "`2020-5-5x` is not a date in the form YYYY-MM-DD",
        ),
        (
            &["--end-date", "05/05/2020"],
            "`05/05/2020` is not a date in the form YYYY-MM-DD",
        ),
        (
            &["--end-date", "2020-02-30"],
            "`2020-02-30` is not a date in the form YYYY-MM-DD",
        ),
        (
            &["--start-date", "2020-05-06", "--end-date", "2020-05-05"],
            "the start date 2020-05-06 is after the end date 2020-05-05",
        ),
    ];
    for (dates, message) in cases {
        let err = fails(
            bare(dir.path())
                .args(["--source", &source, "execute", "user_orders"])
                .args(dates),
        );
        assert!(err.contains(message), "expected {message:?} in {err}");
        assert_same_files(&store_files(dir.path()), &before, message);
    }
    // The dataset command checks its dates the same way.
    let err = fails(bare(dir.path()).args([
        "--source",
        &source,
        "execute",
        "dataset.awesome_dataset",
        "--start-date",
        "2020-05-06",
        "--end-date",
        "2020-05-05",
    ]));
    assert!(err.contains("after the end date"), "{err}");
    assert_same_files(&store_files(dir.path()), &before, "");
}

#[test]
fn a_second_run_of_the_same_feature_set_is_told_who_runs_it() {
    let (dir, input) = stores_with_a_good_run(GOOD);
    let before = store_files(dir.path());
    let root = dir.path().join("historical");
    let lock = featurestore_runtime::pipeline::lock::RunLock::acquire(
        &featurestore_runtime::location::FileLocation::local(&root),
        &["user_orders"],
    )
    .unwrap();
    let run = || {
        let mut cmd = bare(dir.path());
        cmd.args([
            "--source",
            &format!("order_events={}", input.display()),
            "execute",
            "user_orders",
            "--end-date",
            "2020-05-06",
        ]);
        cmd
    };
    let err = fails(&mut run());
    let lock_file = root.join("_locks/user_orders.lock");
    assert!(
        err.contains(&format!(
            "feature set `user_orders` is being run by another process (pid {}); lock file {}",
            std::process::id(),
            lock_file.display()
        )),
        "{err}"
    );
    assert_same_files(&store_files(dir.path()), &before, "");
    // Another feature set is not held.
    succeed(
        bare(dir.path())
            .args(["--source", &format!("order_events={}", input.display())])
            .args(["execute", "user_chargebacks", "--end-date", "2020-05-06"]),
    );
    // The lock goes with its holder.
    drop(lock);
    succeed(&mut run());
}

#[test]
fn quarantine_from_the_configuration_file_reports_the_rows_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.csv");
    std::fs::write(
        &input,
        format!("{GOOD}c,2020-05-02 11:00:00,x,never\nd,2020-05-03 10:00:00\n"),
    )
    .unwrap();
    let config = dir.path().join("featurestore.toml");
    std::fs::write(
        &config,
        format!(
            "[sources.order_events]\npath = \"{}\"\non_bad_rows = \"quarantine\"\n",
            input.display()
        ),
    )
    .unwrap();
    let out = succeed(bare(dir.path()).arg("--config").arg(&config).args([
        "execute",
        "user_orders",
        "--end-date",
        "2020-05-05",
        "--format",
        "csv",
    ]));
    let err = String::from_utf8(out.stderr).unwrap();
    let dir_q = dir.path().join("historical/_quarantine/order_events");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir_q)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let [file] = &files[..] else {
        panic!("{files:?}")
    };
    assert!(
        err.contains(&format!(
            "warning: order_events: 2 bad row(s) of {} left out and quarantined to {}",
            input.display(),
            file.display()
        )),
        "{err}"
    );
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].contains(",line 4,\"column `chargeback_timestamp`: `never` is not a timestamp"),
        "{text}"
    );
    assert!(
        lines[2].ends_with(
            ",line 5,\"2 field(s), expected 4 as in the header\",\"d,2020-05-03 10:00:00\""
        ),
        "{text}"
    );
    // The good rows ran: x has one order, y one.
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "cpf,timestamp,cpf_orders__count_over_3_days_rolling_windows,cpf_orders__count_over_7_days_rolling_windows,cpf_orders__count_over_30_days_rolling_windows\n\
         x,2020-05-05 00:00:00,0,1,1\n\
         y,2020-05-03 00:00:00,1,1,1\n"
    );
}

/// The part files the historical store wrote: `month=M/day=D` of 2020.
fn part_files(dir: &Path) -> Vec<PathBuf> {
    partitions(dir)
        .into_keys()
        .filter(|p| p.ends_with("part-00000.parquet") && !p.starts_with("year=2020/month=05"))
        .filter(|p| p.components().count() == 4)
        .collect()
}

#[test]
fn files_the_historical_store_did_not_write_are_left_alone_and_named() {
    let (dir, input) = stores_with_a_good_run(GOOD);
    let table = dir.path().join("historical/cpf/user_orders");
    let before = part_files(dir.path());
    assert!(before.len() >= 3, "{before:?}");
    // Another tool's files beside the store's, in days the next run empties
    // or replaces: a note, a Parquet file of its own (a copy of a part
    // file, so it reads as this table's data) and a folder of another layout.
    let part = std::fs::read(table.join("year=2020/month=5/day=1/part-00000.parquet")).unwrap();
    let foreign: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            table.join("year=2020/month=5/day=2/NOTES.txt"),
            b"checked by hand\n".to_vec(),
        ),
        (
            table.join("year=2020/month=5/day=1/part-00001-5e1d.c000.parquet"),
            part.clone(),
        ),
        (
            table.join("year=2020/month=05/day=3/part-00000.parquet"),
            part,
        ),
    ];
    for (path, bytes) in &foreign {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    // y's order is gone: the run over the same days empties some of them.
    std::fs::write(&input, format!("{HEADER}a,2020-05-01 10:00:00,x,\n")).unwrap();
    let out = succeed(bare(dir.path()).args([
        "--source",
        &format!("order_events={}", input.display()),
        "execute",
        "user_orders",
        "--start-date",
        "2020-05-01",
        "--end-date",
        "2020-05-05",
    ]));
    let err = String::from_utf8(out.stderr).unwrap();
    for (path, bytes) in &foreign {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{}", path.display());
    }
    let mut named: Vec<String> = foreign
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    named.sort();
    assert!(
        err.contains(&format!(
            "warning: user_orders: 3 file(s) in the partitions of this run were not written by the historical store and were left as they are (other Parquet files there are read as data): {}",
            named.join(", ")
        )),
        "{err}"
    );
    // The summary counts the store's own files that went away.
    let after = part_files(dir.path());
    let emptied = before.iter().filter(|p| !after.contains(p)).count();
    assert!(emptied > 0, "{before:?} {after:?}");
    assert!(
        err.contains(&format!(
            "historical: {} partitions written, {emptied} emptied",
            after.len()
        )),
        "{err}"
    );
}

/// The example's orders.
fn example_input() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/order_events/input.csv")
}

/// A dataset run of the example on stores in `dir`.
fn dataset_run(dir: &Path) -> Command {
    let mut cmd = bare(dir);
    cmd.arg("--source")
        .arg(format!("order_events={}", example_input().display()))
        .arg("--datasets-root")
        .arg(dir.join("datasets"))
        .args([
            "execute",
            "dataset.awesome_dataset",
            "--end-date",
            "2020-07-17",
            "--format",
            "csv",
        ]);
    cmd
}

/// The path in an strace line's first argument: `fsync(7</a/b>)` or
/// `rename("/a/b", "/c/d")` (both paths). A call that another thread's
/// call interrupted in the trace (`rename("/a/b", "/c/d" <unfinished ...>`)
/// has its arguments on that line.
fn traced_paths(line: &str) -> Vec<String> {
    let Some(args) = line.split_once('(').map(|(_, a)| a) else {
        return Vec::new();
    };
    let args = args.split(" <unfinished").next().unwrap_or(args);
    if let Some(fd) = args.split_once('<') {
        return fd
            .1
            .split_once('>')
            .map(|(p, _)| p.to_string())
            .into_iter()
            .collect();
    }
    args.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn partitions_and_dataset_files_are_flushed_before_and_after_each_rename() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let run = dataset_run(dir.path());
    let program = run.get_program().to_owned();
    let args: Vec<_> = run.get_args().map(ToOwned::to_owned).collect();
    let mut traced = Command::new("strace");
    traced
        .args([
            "-f",
            "-qq",
            "-y",
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2",
            "-o",
        ])
        .arg(&trace)
        .arg(program)
        .args(args)
        .envs(run.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS")
        .env_remove("FEATURESTORE_FAIL_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = match traced.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "strace is needed to see the system calls of a run ({e}): apt-get install strace"
        ),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(trace).unwrap();
    // (syscall, paths) in the order the calls were made.
    let calls: Vec<(bool, Vec<String>)> = trace
        .lines()
        .filter(|l| !l.contains("resumed>"))
        .map(|l| (l.contains("rename"), traced_paths(l)))
        .collect();
    let published = |to: &str| {
        to.ends_with("/part-00000.parquet")
            || to.ends_with("/datasets/awesome_dataset/awesome_dataset.csv")
            || to.ends_with("/datasets/awesome_dataset/awesome_dataset.parquet")
    };
    let mut renames = 0;
    for (i, (is_rename, paths)) in calls.iter().enumerate() {
        let [from, to] = &paths[..] else { continue };
        if !is_rename || !published(to) {
            continue;
        }
        renames += 1;
        let synced_before = calls[..i]
            .iter()
            .any(|(r, p)| !r && p == std::slice::from_ref(from));
        assert!(
            synced_before,
            "{from} renamed to {to} without an fsync before"
        );
        let parent = Path::new(to).parent().unwrap().display().to_string();
        let synced_after = calls[i + 1..]
            .iter()
            .any(|(r, p)| !r && p == std::slice::from_ref(&parent));
        assert!(
            synced_after,
            "{to}: its directory is not flushed after the rename"
        );
    }
    // Both feature sets' partitions and the two dataset files.
    let parts = files(&dir.path().join("historical"))
        .into_keys()
        .filter(|p| p.ends_with("part-00000.parquet"))
        .count();
    assert!(parts > 2, "{parts}");
    assert_eq!(renames, parts + 2, "{trace}");
}

#[test]
fn a_killed_dataset_run_leaves_a_hidden_file_that_the_next_run_removes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dataset_run(dir.path())
        .env("FEATURESTORE_FAIL_AT", "dataset:encoded:parquet")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let target = dir.path().join("datasets/awesome_dataset");
    let names = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let left = names();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(
        left[0],
        ".awesome_dataset.parquet.".to_string() + &left[0][25..]
    );
    assert_eq!(left[1], "awesome_dataset.csv");
    assert!(std::fs::metadata(target.join(&left[0])).unwrap().len() > 0);
    succeed(&mut dataset_run(dir.path()));
    assert_eq!(names(), ["awesome_dataset.csv", "awesome_dataset.parquet"]);
}

/// The test Redis server's URL, or a failure saying how to start it.
fn redis_url() -> String {
    std::env::var("FEATURESTORE_TEST_REDIS").unwrap_or_else(|_| {
        panic!("set FEATURESTORE_TEST_REDIS (run `eval \"$(scripts/servers.sh start redis)\"`)")
    })
}

/// A run writes a feature set's online store while it computes the next
/// one; a failed online write still stops the run before the next one
/// changes any store, in memory and split by key.
#[test]
fn a_run_stops_at_a_refused_online_write_before_the_next_feature_set_writes() {
    refused_online_write_stops_the_run(&[]);
    refused_online_write_stops_the_run(&["--memory-budget", "64B"]);
}

fn refused_online_write_stops_the_run(options: &[&str]) {
    let split = !options.is_empty();
    let server = redis_url();
    let tag = uuid_like();
    let reader = ReadOnlyRedis::new(
        &server,
        &format!("reliability-{tag}:"),
        &format!("reliability-reader-{tag}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let run = |online: &str| {
        let mut cmd = bare_historical(dir.path());
        cmd.args(["--online-url", online])
            .args(options)
            .arg("--source")
            .arg(format!("order_events={}", example_input().display()))
            .args(["execute", "user_orders", "user_chargebacks"])
            .args(["--end-date", "2020-07-17"]);
        cmd
    };
    let err = fails(&mut run(&reader.url));
    assert!(
        err.contains("error: feature set `user_orders`: the historical store at"),
        "{err}"
    );
    assert!(
        err.contains("no permissions to run the 'set' command"),
        "{err}"
    );
    let written: Vec<PathBuf> = files(&dir.path().join("historical"))
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(
        written.iter().any(|p| p.starts_with("cpf/user_orders")),
        "{written:?}"
    );
    // Neither a day of user_chargebacks nor one left staged.
    assert!(
        written.iter().all(|p| p.starts_with("cpf/user_orders")),
        "{written:?}"
    );
    // The same run to a store it may write is split, and writes both.
    let online = format!("sqlite://{}", dir.path().join("online.sqlite").display());
    let out = succeed(&mut run(&online));
    let said = String::from_utf8(out.stderr).unwrap();
    assert_eq!(said.contains("user_orders: split into"), split, "{said}");
    assert_eq!(
        said.contains("user_chargebacks: split into"),
        split,
        "{said}"
    );
    assert!(
        said.contains("online: 3 rows upserted") && said.contains("online: 1 rows upserted"),
        "{said}"
    );
    assert!(files(&dir.path().join("historical"))
        .into_keys()
        .any(|p| p.starts_with("cpf/user_chargebacks")));
}

#[test]
fn an_online_write_refused_after_the_historical_write_is_recorded_reported_and_repaired() {
    let server = redis_url();
    let tag = uuid_like();
    let prefix = format!("reliability-{tag}:");
    let read_only = ReadOnlyRedis::new(&server, &prefix, &format!("reliability-reader-{tag}"));
    let reader = read_only.url.clone();
    let host = server.trim_start_matches("redis://").trim_end_matches('/');
    let writer = format!("redis://{host}/?prefix={prefix}");

    let dir = tempfile::tempdir().unwrap();
    let run = |online: &str, dates: &[&str]| {
        let mut cmd = bare_historical(dir.path());
        cmd.args(["--online-url", online])
            .arg("--source")
            .arg(format!("order_events={}", example_input().display()))
            .args(["execute", "user_orders"])
            .args(dates);
        cmd
    };
    let status = || {
        bare(dir.path())
            .args(["status", "user_orders"])
            .output()
            .unwrap()
    };
    let err = fails(&mut run(&reader, &["--end-date", "2020-07-17"]));
    let historical = dir.path().join("historical");
    assert!(
        err.contains(&format!(
            "error: feature set `user_orders`: the historical store at {} was written (days 2018-05-12 to 2020-07-17), but the online store at redis://***@{host}/ was not changed; it is behind until the next run of `user_orders`, which re-writes its rows first (`features status user_orders` shows it)",
            historical.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("no permissions to run the 'set' command"),
        "{err}"
    );
    assert!(part_files(dir.path()).len() > 3);

    let behind = status();
    assert_eq!(behind.status.code(), Some(1));
    let said = String::from_utf8(behind.stdout).unwrap();
    assert!(
        said.starts_with(
            "user_orders: behind: the online store is behind the historical store since "
        ),
        "{said}"
    );
    assert!(
        said.contains("the run of days 2018-05-12 to 2020-07-17 wrote the historical store but not the online store at redis://***@"),
        "{said}"
    );

    // A later run over two days only: alone, it would leave the online
    // store with rows as of 2020-05-01; it re-writes the failed run's first.
    let out = succeed(&mut run(
        &writer,
        &["--start-date", "2020-05-01", "--end-date", "2020-05-02"],
    ));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("this run re-wrote those online rows from the historical store first"),
        "{err}"
    );
    let in_step = status();
    assert_eq!(in_step.status.code(), Some(0));
    assert!(String::from_utf8(in_step.stdout)
        .unwrap()
        .starts_with("user_orders: in step"));
    // The rows of the README's run to 2020-07-17 (Butterfree's).
    let header = "cpf,timestamp,cpf_orders__count_over_3_days_rolling_windows,cpf_orders__count_over_7_days_rolling_windows,cpf_orders__count_over_30_days_rolling_windows\n";
    for (key, row) in [
        ("x", "x,2020-07-17 00:00:00,2,2,2\n"),
        ("y", "y,2020-05-13 00:00:00,0,0,0\n"),
        ("z", "z,2020-06-11 00:00:00,0,0,0\n"),
    ] {
        let got = succeed(bare_historical(dir.path()).args([
            "--online-url",
            &writer,
            "get",
            "user_orders",
            key,
            "--format",
            "csv",
        ]));
        assert_eq!(
            String::from_utf8(got.stdout).unwrap(),
            format!("{header}{row}")
        );
    }
}

/// A name part unique to this test process and moment.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

#[test]
fn a_run_killed_between_the_two_writes_is_shown_behind_and_repaired_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let mut cmd = bare(dir.path());
        cmd.arg("--source")
            .arg(format!("order_events={}", example_input().display()))
            .args(["execute", "user_orders", "--end-date", "2020-07-17"]);
        cmd
    };
    let killed = run()
        .env("FEATURESTORE_FAIL_AT", "online:before-commit")
        .output()
        .unwrap();
    assert!(!killed.status.success());
    let status = || bare(dir.path()).args(["status"]).output().unwrap();
    let behind = status();
    assert_eq!(behind.status.code(), Some(1));
    let said = String::from_utf8(behind.stdout).unwrap();
    assert!(
        said.contains("user_orders: behind: ")
            && said.contains("(the run did not finish: killed, or still running)"),
        "{said}"
    );
    assert!(said.contains("user_chargebacks: in step"), "{said}");
    assert!(
        online(dir.path()).is_empty(),
        "the online store was not written"
    );
    let out = succeed(&mut run());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("this run re-wrote those online rows from the historical store first"));
    assert_eq!(status().status.code(), Some(0));
    assert_eq!(online(dir.path()).len(), 3);
}

#[test]
fn an_end_date_before_every_event_writes_nothing_and_says_so() {
    let (dir, input) = stores_with_a_good_run(GOOD);
    let before = store_files(dir.path());
    let out = succeed(bare(dir.path()).args([
        "--source",
        &format!("order_events={}", input.display()),
        "execute",
        "user_orders",
        "--end-date",
        "2020-04-30",
    ]));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("user_orders: nothing to write: no event (after the feature set's query and filter) is dated on or before the end date 2020-04-30; no store was changed"),
        "{err}"
    );
    assert!(
        err.contains("2 event(s) dated after the end date 2020-04-30"),
        "{err}"
    );
    assert_same_files(&store_files(dir.path()), &before, "");
}

/// The days of user_chargebacks' part files, as `M-D` of 2020.
fn chargeback_days(dir: &Path) -> Vec<String> {
    let mut days: Vec<String> = files(&dir.join("historical/cpf/user_chargebacks"))
        .into_keys()
        .filter(|p| p.ends_with("part-00000.parquet"))
        .map(|p| {
            let parts: Vec<String> = p
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            format!(
                "{}-{}",
                parts[1].trim_start_matches("month="),
                parts[2].trim_start_matches("day=")
            )
        })
        .collect();
    days.sort_by_key(|d| {
        let (m, d) = d.split_once('-').unwrap();
        (m.parse::<u32>().unwrap(), d.parse::<u32>().unwrap())
    });
    days
}

#[test]
fn a_filter_leaving_no_event_or_one_replaces_the_same_days() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.csv");
    let run = |rows: &str, dates: &[&str]| {
        std::fs::write(&input, format!("{HEADER}{rows}")).unwrap();
        succeed(
            bare(dir.path())
                .arg("--source")
                .arg(format!("order_events={}", input.display()))
                .args(["execute", "user_chargebacks"])
                .args(dates),
        )
    };
    let range = ["--start-date", "2020-05-01", "--end-date", "2020-05-10"];
    let first_state = || {
        run(
            "a,2020-04-20 10:00:00,x,2020-04-30 10:00:00\nb,2020-04-21 10:00:00,y,2020-05-01 10:00:00\n",
            &["--end-date", "2020-05-10"],
        );
        chargeback_days(dir.path())
    };
    let first = first_state();
    // Some of the first run's days lie in the range, before May 3rd.
    assert!(
        first.contains(&"5-1".to_string()) && first.contains(&"5-2".to_string()),
        "{first:?}"
    );
    let before_range: Vec<String> = first.iter().filter(|d| d.as_str() < "5").cloned().collect();
    assert_eq!(before_range, ["4-30"]);

    // No chargeback left by the filter: the range's days have no rows.
    let none = run(
        "a,2020-04-20 10:00:00,x,\nb,2020-04-21 10:00:00,y,\n",
        &range,
    );
    let err = String::from_utf8(none.stderr).unwrap();
    assert!(
        err.contains("user_chargebacks: no event (after the feature set's query and filter) is dated from 2020-05-01 to 2020-05-10: those days have no rows"),
        "{err}"
    );
    assert_eq!(chargeback_days(dir.path()), ["4-30"]);

    // One chargeback, on May 3rd at 10:00: x's rows are on the 3rd (windows
    // empty), the 4th (1 in every window) and the 7th (the 3-day window
    // empties); the 1st and the 2nd have none, as with no event.
    first_state();
    run(
        "a,2020-04-20 10:00:00,x,2020-05-03 10:00:00\nb,2020-04-21 10:00:00,y,\n",
        &range,
    );
    assert_eq!(chargeback_days(dir.path()), ["4-30", "5-3", "5-4", "5-7"]);
}

#[test]
fn messages_say_what_a_dataset_a_link_and_a_parquet_file_are() {
    let (dir, input) = stores_with_a_good_run(GOOD);
    let run_on = |path: &Path| {
        fails(bare(dir.path()).args([
            "--source",
            &format!("order_events={}", path.display()),
            "execute",
            "user_orders",
            "--end-date",
            "2020-05-05",
        ]))
    };
    // A dataset is not served online: say so, not "unknown pipeline".
    let err = fails(bare(dir.path()).args(["get", "dataset.awesome_dataset", "x"]));
    assert!(
        err.contains("error: `dataset.awesome_dataset` is a dataset: datasets are files for training, not served online; `features execute dataset.awesome_dataset --end-date YYYY-MM-DD` writes it under the datasets root"),
        "{err}"
    );
    assert!(!err.contains("unknown"), "{err}");
    // Links: one to a missing file, two that lead to each other.
    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink(dir.path().join("gone.csv"), &dangling).unwrap();
    let err = run_on(&dangling);
    assert!(
        err.contains(&format!(
            "is a symbolic link to {}, which does not exist",
            dir.path().join("gone.csv").display()
        )),
        "{err}"
    );
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let err = run_on(&a);
    assert!(
        err.contains("that cannot be followed (a loop of links?)") && !err.contains("no such file"),
        "{err}"
    );
    // A partition of the store, named as CSV.
    let parquet = dir.path().join("orders-export.csv");
    std::fs::copy(
        dir.path()
            .join("historical/cpf/user_orders/year=2020/month=5/day=1/part-00000.parquet"),
        &parquet,
    )
    .unwrap();
    // A whole Parquet file is read as Parquet whatever its name: this one
    // holds feature rows, not order events, and the message says so.
    let err = run_on(&parquet);
    assert!(
        err.contains(
            "missing column `order_id` (declared as String); the data has columns: cpf, timestamp"
        ),
        "{err}"
    );
    // A cut one (no closing magic) is not read as Parquet, and not
    // reported as a CSV line of strange fields either.
    let bytes = std::fs::read(&parquet).unwrap();
    std::fs::write(&parquet, &bytes[..bytes.len() / 2]).unwrap();
    let err = run_on(&parquet);
    assert!(
        err.contains("the file is Parquet (it starts with `PAR1`), not CSV: declare `format = \"parquet\"` on the source, or give a path ending in `.parquet`"),
        "{err}"
    );
    drop(input);
}

#[test]
fn json_output_prints_numbers_as_numbers() {
    let (dir, _) = stores_with_a_good_run(GOOD);
    let out = succeed(bare(dir.path()).args(["get", "user_orders", "x", "--format", "json"]));
    let row: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // x's order on May 1st at 10:00 is in every window of May 2nd; on May
    // 5th the 3-day window [May 2nd, 5th) no longer holds it.
    assert_eq!(
        row,
        serde_json::json!({
            "cpf": "x",
            "timestamp": "2020-05-05 00:00:00",
            "cpf_orders__count_over_3_days_rolling_windows": 0,
            "cpf_orders__count_over_7_days_rolling_windows": 1,
            "cpf_orders__count_over_30_days_rolling_windows": 1,
        })
    );
}
