//! A run split by key to fit its memory budget: the rows Butterfree
//! produces, the same day files and online rows as a run in memory, and a
//! quality report that agrees with one.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use features::{UserChargebacks, UserOrders};
use featurestore_runtime::config::Config;
use featurestore_runtime::pipeline::{self, quality, RunReport, Stores};
use featurestore_runtime::spec::FeatureSetSpec;
use featurestore_runtime::store::online::records_frame;
use featurestore_runtime::{feature_set, DateRange, FeatureSet};
use tests::{fixture_csv, frame_rows, stores, temp_config};

use crate::catalog::Payments;
use crate::legiti::historical_rows;

fn range() -> DateRange {
    DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2020, 7, 17),
    }
}

/// Both feature sets, run together.
fn run_both(config: &Config, st: &Stores) -> Vec<RunReport> {
    pipeline::execute_all(
        &[&UserOrders::SPEC, &UserChargebacks::SPEC],
        config,
        st,
        range(),
        &|_| {},
    )
    .expect("run succeeds")
}

/// A budget of a few bytes: every file is read in pieces, the events
/// split into the most parts.
fn split_config(dir: &Path) -> Config {
    let (_, mut config) = temp_config();
    config.historical_root = dir.join("historical").to_string_lossy().into_owned();
    config.online_url = format!("sqlite://{}", dir.join("online.sqlite").display());
    config.engine.memory_budget = Some(64);
    config.engine.spill_dir = Some(dir.join("spill"));
    std::fs::create_dir_all(dir.join("spill")).unwrap();
    config
}

/// Both feature sets over the source at `source`, which must be split by
/// key; the stores and the reports.
fn run_split_on(mut config: Config, source: &str) -> (Stores, Vec<RunReport>) {
    config
        .sources
        .insert("order_events".into(), source.to_string());
    let st = stores(&config);
    let reports = run_both(&config, &st);
    assert!(
        reports.iter().all(|r| r.split.is_some()),
        "the run was split by key"
    );
    (st, reports)
}

/// Both feature sets' historical rows are Butterfree's.
fn assert_butterfree_rows(st: &Stores) {
    assert_eq!(
        historical_rows::<UserOrders>(st),
        fixture_csv("user_orders.csv")
    );
    assert_eq!(
        historical_rows::<UserChargebacks>(st),
        fixture_csv("user_chargebacks.csv")
    );
}

/// Every file below `root` but the locks and reports, with its bytes.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if name.starts_with("_locks") || name.starts_with("_reports") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_run_split_by_key_writes_butterfree_rows_and_the_files_of_a_run_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let config = split_config(dir.path());
    let st = stores(&config);
    let reports = run_both(&config, &st);
    for r in &reports {
        let split = r.split.as_ref().expect("the run was split by key");
        assert!(split.parts >= 2, "{}: {} parts", r.feature_set, split.parts);
        assert_eq!(r.rows.height(), 0, "the rows are not held");
    }
    assert_eq!(
        reports[0].row_count(),
        fixture_csv("user_orders.csv").1.len()
    );
    assert_butterfree_rows(&st);
    for (spec, online) in [
        (&UserOrders::SPEC, "user_orders_online.csv"),
        (&UserChargebacks::SPEC, "user_chargebacks_online.csv"),
    ] {
        let records = st.online.scan(spec).unwrap();
        assert_eq!(
            frame_rows(&records_frame(spec, &records).unwrap()),
            fixture_csv(online),
            "online rows of {}",
            spec.name
        );
    }
    // The spill is removed.
    assert_eq!(
        std::fs::read_dir(dir.path().join("spill")).unwrap().count(),
        0
    );

    // The same day files, byte for byte, as a run in memory.
    let (_mem_dir, in_memory) = temp_config();
    let mem_stores = stores(&in_memory);
    let mem_reports = run_both(&in_memory, &mem_stores);
    assert!(mem_reports.iter().all(|r| r.split.is_none()));
    let split_files = files(&dir.path().join("historical"));
    assert!(split_files.len() > 30, "{} files", split_files.len());
    assert!(
        split_files == files(Path::new(&in_memory.historical_root)),
        "the day files differ from a run in memory's"
    );

    // Quality: what a run in memory reports, the distinct values estimated.
    for (split, mem) in reports.iter().zip(&mem_reports) {
        let spec = if split.feature_set == "user_orders" {
            &UserOrders::SPEC
        } else {
            &UserChargebacks::SPEC
        };
        let took = std::time::Duration::from_millis(1);
        let t = quality::Thresholds::default();
        let s = quality::record(st.historical.root(), spec, split, took, t).unwrap();
        let m = quality::record(mem_stores.historical.root(), spec, mem, took, t).unwrap();
        assert_eq!((s.rows, s.partitions), (m.rows, m.partitions));
        assert_eq!(s.columns.len(), m.columns.len());
        for (a, b) in s.columns.iter().zip(&m.columns) {
            assert_eq!(
                (&a.name, a.rows, a.nulls, a.min, a.max, &a.histogram),
                (&b.name, b.rows, b.nulls, b.min, b.max, &b.histogram)
            );
            let (x, y) = (a.mean.unwrap(), b.mean.unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                "{}: {x} vs {y}",
                a.name
            );
            // Few values: the sketch counts them exactly.
            assert_eq!(a.distinct, b.distinct, "{}", a.name);
        }
    }
}

#[test]
fn a_bad_value_in_a_file_read_in_pieces_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = split_config(dir.path());
    let input = std::fs::read_to_string(tests::fixtures_dir().join("input.csv")).unwrap();
    let mut lines: Vec<String> = input.lines().map(str::to_string).collect();
    // The first data row's timestamp is no time.
    let header: Vec<&str> = lines[0].split(',').collect();
    let ts = header.iter().position(|h| *h == "order_timestamp").unwrap();
    let mut fields: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    fields[ts] = "yesterday".to_string();
    lines[1] = fields.join(",");
    let path = dir.path().join("events.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    config
        .sources
        .insert("order_events".into(), path.to_string_lossy().into_owned());
    let st = stores(&config);
    let e = pipeline::execute(&UserOrders::SPEC, &config, &st, range(), &|_| {})
        .expect_err("a bad value fails the run")
        .to_string();
    assert!(e.contains("events.csv"), "{e}");
    assert!(e.contains("--memory-budget"), "{e}");
    // Nothing was written.
    assert!(st.online.scan(&UserOrders::SPEC).unwrap().is_empty());
}

#[test]
fn a_source_of_many_files_is_split_file_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = split_config(dir.path());
    let input = std::fs::read_to_string(tests::fixtures_dir().join("input.csv")).unwrap();
    let lines: Vec<&str> = input.lines().filter(|l| !l.is_empty()).collect();
    let (header, rows) = (lines[0], &lines[1..]);
    let events = dir.path().join("events");
    std::fs::create_dir_all(&events).unwrap();
    // Rows of one key across both files: the parts are by key, not file.
    for (i, half) in rows.chunks(rows.len().div_ceil(2)).enumerate() {
        let text = std::iter::once(header)
            .chain(half.iter().copied())
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(events.join(format!("part-{i}.csv")), text + "\n").unwrap();
    }
    let (st, _) = run_split_on(config, &events.to_string_lossy());
    assert_butterfree_rows(&st);
}

#[test]
fn a_source_in_an_object_store_is_split_like_a_file_on_disk() {
    use object_store::{ObjectStoreExt, PutPayload};
    let dir = tempfile::tempdir().unwrap();
    let config = split_config(dir.path());
    let bytes = std::fs::read(tests::fixtures_dir().join("input.csv")).unwrap();
    let url = "memory://split-source/in/input.csv";
    let location =
        featurestore_runtime::location::FileLocation::parse(url, Path::new("/")).unwrap();
    featurestore_runtime::io::block_on(
        location
            .store()
            .put(location.path(), PutPayload::from(bytes)),
    )
    .unwrap();
    let (st, _) = run_split_on(config, url);
    assert_butterfree_rows(&st);
}

/// A file the memory-speed check vouches for up to a point (more than its
/// 4 MiB blocks of plain lines) and not after it (a quoted field): the
/// pieces it handed over are read once, and the walk goes on from where
/// they end. Compared with a run in memory of the same file, which walks
/// the whole file: the same day files and online rows, no row read twice
/// or left out.
#[test]
fn a_file_plain_only_in_its_first_blocks_is_read_in_pieces_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = split_config(dir.path());
    // Pieces of about 256 KiB (a sixth of the budget).
    config.engine.memory_budget = Some(6 * 256 * 1024);
    let input = std::fs::read_to_string(tests::fixtures_dir().join("input.csv")).unwrap();
    let mut text = input.trim_end().to_string() + "\n";
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut i = 0u64;
    while text.len() < 6 << 20 {
        let at = start + chrono::Duration::seconds((i * 97) as i64);
        let charged = if i.is_multiple_of(50) {
            (at + chrono::Duration::days(2))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        } else {
            String::new()
        };
        text += &format!(
            "f{i},{},{:011},{charged}\n",
            at.format("%Y-%m-%d %H:%M:%S"),
            90_000_000_000 + (i * 7919) % 5000
        );
        i += 1;
    }
    // Past the check's first blocks: a quoted field, valid CSV.
    text += "\"q1\",2020-06-01 10:00:00,x,\n";
    let path = dir.path().join("events.csv");
    std::fs::write(&path, &text).unwrap();
    let (st, reports) = run_split_on(config, &path.to_string_lossy());

    let (_mem_dir, mut in_memory) = temp_config();
    in_memory
        .sources
        .insert("order_events".into(), path.to_string_lossy().into_owned());
    let mem_stores = stores(&in_memory);
    let mem_reports = run_both(&in_memory, &mem_stores);
    assert!(mem_reports.iter().all(|r| r.split.is_none()));
    assert_eq!(
        reports.iter().map(RunReport::row_count).collect::<Vec<_>>(),
        mem_reports
            .iter()
            .map(RunReport::row_count)
            .collect::<Vec<_>>()
    );
    assert!(
        files(&dir.path().join("historical")) == files(Path::new(&in_memory.historical_root)),
        "the day files differ from a run in memory's"
    );
    for spec in [&UserOrders::SPEC, &UserChargebacks::SPEC] {
        assert_eq!(
            frame_rows(&records_frame(spec, &st.online.scan(spec).unwrap()).unwrap()),
            frame_rows(&records_frame(spec, &mem_stores.online.scan(spec).unwrap()).unwrap()),
            "online rows of {}",
            spec.name
        );
    }
}

/// A file with CRLF line ends, which the memory-speed check leaves to the
/// walk, read in pieces: Butterfree's rows, its first record included.
#[test]
fn a_crlf_file_is_read_in_pieces_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = split_config(dir.path());
    let input = std::fs::read_to_string(tests::fixtures_dir().join("input.csv")).unwrap();
    let crlf = input
        .lines()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n";
    let path = dir.path().join("events.csv");
    std::fs::write(&path, crlf).unwrap();
    let (st, _) = run_split_on(config, &path.to_string_lossy());
    assert_butterfree_rows(&st);
}

/// Both feature sets over `range`, split by key under `dir` and in memory:
/// the reports and both stores agree. `user_orders` reads its events as
/// the source has them (its first event found by the split), and
/// `user_chargebacks` has a `filter` (its parts prepared twice).
fn assert_split_is_in_memory_over(dir: &Path, range: DateRange) {
    assert_split_is_in_memory(
        dir,
        &[&UserOrders::SPEC, &UserChargebacks::SPEC],
        None,
        range,
    );
}

/// Feature sets `specs`, all over one source (at `source`, else the
/// configured one), run split by key and in memory: the same reports, day
/// files and online rows.
fn assert_split_is_in_memory(
    dir: &Path,
    specs: &[&'static FeatureSetSpec],
    source: Option<&Path>,
    range: DateRange,
) {
    let run = |mut config: Config| {
        if let Some(path) = source {
            config.sources.insert(
                specs[0].source.name.into(),
                path.to_string_lossy().into_owned(),
            );
        }
        let st = stores(&config);
        let reports =
            pipeline::execute_all(specs, &config, &st, range, &|_| {}).expect("run succeeds");
        (st, reports, config)
    };
    let (split_stores, split, _) = run(split_config(dir));
    let (_mem_dir, in_memory) = temp_config();
    let (mem_stores, mem, in_memory) = run(in_memory);
    assert!(split.iter().all(|r| r.split.is_some()));
    assert!(mem.iter().all(|r| r.split.is_none()));
    for (s, m) in split.iter().zip(&mem) {
        assert_eq!(
            (
                s.feature_set,
                s.events_after_end,
                s.events_in_future,
                s.row_count(),
                s.days
            ),
            (
                m.feature_set,
                m.events_after_end,
                m.events_in_future,
                m.row_count(),
                m.days
            ),
            "{range:?}"
        );
    }
    assert!(
        files(&dir.join("historical")) == files(Path::new(&in_memory.historical_root)),
        "{range:?}: the day files differ from a run in memory's"
    );
    for spec in specs {
        assert_eq!(
            split_stores.online.scan(spec).unwrap(),
            mem_stores.online.scan(spec).unwrap(),
            "{range:?}: online rows of {}",
            spec.name
        );
    }
}

#[test]
fn a_split_run_counts_late_events_and_finds_the_first_day_as_a_run_in_memory_does() {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    // Orders and chargebacks after the end date; then the end date before
    // every order (no row, the late events counted), with and without a
    // start date.
    for (start, end) in [
        (None, day(2020, 5, 11)),
        (None, day(2018, 1, 1)),
        (day(2017, 12, 1), day(2018, 1, 1)),
        (day(2020, 5, 1), day(2020, 7, 17)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        assert_split_is_in_memory_over(dir.path(), DateRange { start, end });
    }
}

#[test]
fn a_split_run_of_a_feature_set_with_a_query_writes_what_a_run_in_memory_does() {
    use crate::sources::DoubledClicks;
    // A `query` (which drops the clicks without a positive `ms` and
    // doubles the rest): the run's first event is found by preparing each
    // part whole. Twenty users over six days, every click of the first day
    // dropped by the query: the first event is a day after the source's.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("uid,at,ms\n");
    for i in 0..240 {
        let ms = match i % 7 {
            0 => String::new(),
            1 => "0".to_string(),
            _ => (i % 13).to_string(),
        };
        let ms = if i < 40 { "0".to_string() } else { ms };
        csv.push_str(&format!(
            "u{},2024-01-{:02} {:02}:00:00,{ms}\n",
            i % 20,
            1 + i / 40,
            i % 24
        ));
    }
    let path = dir.path().join("clicks.csv");
    std::fs::write(&path, csv).unwrap();
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 1, 8),
    };
    let run = |mut config: Config| {
        config
            .sources
            .insert("clicks".into(), path.to_string_lossy().into_owned());
        let st = stores(&config);
        let reports = pipeline::execute_all(&[&DoubledClicks::SPEC], &config, &st, range, &|_| {})
            .expect("run succeeds");
        (config, reports)
    };
    let (split_config, split) = run(split_config(&dir.path().join("split")));
    let (_mem_dir, in_memory) = temp_config();
    let (in_memory, mem) = run(in_memory);
    let (s, m) = (&split[0], &mem[0]);
    assert!(s.split.as_ref().is_some_and(|s| s.parts >= 2));
    assert!(m.split.is_none());
    assert_eq!(
        (s.events_after_end, s.row_count(), s.days),
        (m.events_after_end, m.row_count(), m.days)
    );
    assert_eq!(
        m.days.map(|d| d.0),
        NaiveDate::from_ymd_opt(2024, 1, 2),
        "the first kept click is on the second day"
    );
    let split_files = files(Path::new(&split_config.historical_root));
    assert!(split_files.len() > 5, "{} files", split_files.len());
    assert!(
        split_files == files(Path::new(&in_memory.historical_root)),
        "the day files differ from a run in memory's"
    );
}

/// 120 payments of 7 users over 4 days, with nulls in every column but the
/// key and the time, as a CSV file in `dir`.
fn payments_csv(dir: &Path) -> std::path::PathBuf {
    let methods = ["pix", "card", "boleto", ""];
    let mut csv = String::from("uid,at,amount,method,paid_on\n");
    for i in 0..120 {
        let amount = if i % 5 == 0 {
            String::new()
        } else {
            (i % 17).to_string()
        };
        let paid_on = if i % 4 == 0 {
            String::new()
        } else {
            format!("2024-01-{:02}", 1 + i % 5)
        };
        csv.push_str(&format!(
            "u{},2024-01-{:02} {:02}:{:02}:00,{amount},{},{paid_on}\n",
            i % 7,
            1 + i / 30,
            i % 24,
            i % 60,
            methods[i % 4]
        ));
    }
    let path = dir.join("payments.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn payments_range() -> DateRange {
    DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 1, 6),
    }
}

/// Payments with a method, counted: `method` is read only for its nulls.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "1d,2d", source = Payments, timestamp = at)]
pub struct MethodsGiven {
    #[feature(count(method))]
    pub methods: i64,
}

#[test]
fn a_column_only_counted_is_split_as_its_nulls_and_counted_as_a_run_in_memory_counts_it() {
    // `method` is only counted: the parts keep whether it is null, not its
    // text, and leave `amount` and `paid_on` out. A quarter of the payments
    // have no method.
    let dir = tempfile::tempdir().unwrap();
    let path = payments_csv(dir.path());
    assert_split_is_in_memory(
        &dir.path().join("run"),
        &[&MethodsGiven::SPEC],
        Some(&path),
        payments_range(),
    );
}

/// `amount` read only by a feature's filter, `paid_on` only by the feature
/// set's, `method` only for its nulls.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at,
              filter = "paid_on IS NOT NULL")]
pub struct MethodsOfBigPayments {
    #[feature(count(method), filter = "amount > 10")]
    pub methods: i64,
}

/// `amount` read only by a `count_if` condition.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at)]
pub struct BigPayments {
    #[feature(count_if("amount >= 4"))]
    pub big: i64,
}

#[test]
fn feature_sets_reading_their_source_every_way_write_split_what_they_write_in_memory() {
    use crate::catalog::{
        LastPaymentPerMethod, MethodByAmount, PaymentStats, PaymentsByMethod, PaymentsPerInstant,
    };
    // Distinct values, an ordering column (`max_by`), a pivot and a
    // feature's filter, a feature set without windows, `distinct`, filters
    // and a condition: each alone, where one use may be a column's only
    // one, then together, where a column counted by one is read by others.
    // The parts keep every column one of them reads, as it reads it.
    let dir = tempfile::tempdir().unwrap();
    let path = payments_csv(dir.path());
    let specs: [&'static FeatureSetSpec; 8] = [
        &PaymentStats::SPEC,
        &MethodByAmount::SPEC,
        &PaymentsByMethod::SPEC,
        &PaymentsPerInstant::SPEC,
        &LastPaymentPerMethod::SPEC,
        &MethodsGiven::SPEC,
        &MethodsOfBigPayments::SPEC,
        &BigPayments::SPEC,
    ];
    for (i, spec) in specs.iter().enumerate() {
        let run = dir.path().join(format!("alone-{i}"));
        assert_split_is_in_memory(&run, &[spec], Some(&path), payments_range());
    }
    assert_split_is_in_memory(
        &dir.path().join("together"),
        &specs,
        Some(&path),
        payments_range(),
    );
}
