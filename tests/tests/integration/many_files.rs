//! Sources of many files: a directory, an object-store prefix, a glob, a
//! Hive-partitioned tree, and `.gz` / `.zst` files (compressed by the
//! `gzip` and `zstd` programs, not by the code under test). The example's
//! input split into parts must give exactly Butterfree's rows (the
//! fixtures), as the one file does.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use features::{UserChargebacks, UserOrders};
use featurestore_runtime::config::Config;
use featurestore_runtime::location::FileLocation;
use featurestore_runtime::pipeline::{self, RunReport};
use featurestore_runtime::{DateRange, FeatureSet};
use object_store::{ObjectStoreExt, PutPayload};
use tests::{fixture_csv, fixtures_dir, run_rows, stores, temp_config};

const HEADER: &str = "order_id,order_timestamp,cpf,chargeback_timestamp";

/// The example's input rows (without the header), in file order.
fn input_rows() -> Vec<String> {
    let text = std::fs::read_to_string(fixtures_dir().join("input.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
    assert_eq!(lines.remove(0), HEADER);
    assert_eq!(lines.len(), 9);
    lines
}

/// The input cut into `parts` files' text, each with the header, in order.
fn parts(parts: usize) -> Vec<String> {
    let rows = input_rows();
    let per = rows.len().div_ceil(parts);
    rows.chunks(per)
        .map(|c| format!("{HEADER}\n{}\n", c.join("\n")))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `path` compressed by `program` (`gzip` or `zstd`) into `path.EXT`; the
/// original is removed.
fn compress(program: &str, path: &Path) -> PathBuf {
    let status = Command::new(program)
        .arg(if program == "zstd" { "-q" } else { "-n" })
        .arg(path)
        .status()
        .unwrap_or_else(|e| {
            panic!("{program} cannot run ({e}): install it (apt-get install {program})")
        });
    assert!(status.success(), "{program} {}", path.display());
    if program == "zstd" {
        std::fs::remove_file(path).unwrap();
        path.with_extension("csv.zst")
    } else {
        path.with_extension("csv.gz")
    }
}

fn run<F: FeatureSet>(config: &Config) -> featurestore_runtime::Result<RunReport> {
    let st = stores(config);
    pipeline::execute(
        &F::SPEC,
        config,
        &st,
        DateRange {
            start: None,
            end: Some(NaiveDate::from_ymd_opt(2020, 7, 17).unwrap()),
        },
        &|_| {},
    )
}

/// Both feature sets over the source at `location` give Butterfree's rows.
fn gives_butterfree_rows(location: &str) {
    let (_dir, mut config) = temp_config();
    config
        .sources
        .insert("order_events".into(), location.to_string());
    let orders = run::<UserOrders>(&config).unwrap_or_else(|e| panic!("{location}: {e}"));
    assert_eq!(
        run_rows(&orders.rows),
        fixture_csv("user_orders.csv"),
        "user_orders from {location}"
    );
    let chargebacks = run::<UserChargebacks>(&config).unwrap_or_else(|e| panic!("{location}: {e}"));
    assert_eq!(
        run_rows(&chargebacks.rows),
        fixture_csv("user_chargebacks.csv"),
        "user_chargebacks from {location}"
    );
}

/// The run's error on the source at `location`, as text.
fn fails(location: &str) -> String {
    let (_dir, mut config) = temp_config();
    config
        .sources
        .insert("order_events".into(), location.to_string());
    run::<UserOrders>(&config)
        .map(|_| ())
        .expect_err(location)
        .to_string()
}

#[test]
fn a_directory_of_parts_is_read_as_its_data_files_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("export");
    for (i, text) in parts(3).iter().enumerate() {
        write(&root.join(format!("part-{i}.csv")), text.as_bytes());
    }
    // What exporters leave beside the data: read, each would fail the run.
    write(&root.join("_SUCCESS"), b"");
    write(&root.join(".part-0.csv.crc"), b"\x00\x01crc");
    write(&root.join("_temporary/0/part-9.csv"), b"not,a,source\n");
    // An empty part (an empty partition of the export) holds no rows.
    write(&root.join("part-3.csv"), b"");
    gives_butterfree_rows(&root.to_string_lossy());
}

#[test]
fn a_glob_reads_the_matching_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("in");
    for (i, text) in parts(2).iter().enumerate() {
        write(&root.join(format!("2020/orders-{i}.csv")), text.as_bytes());
    }
    write(
        &root.join("2020/notes.txt"),
        b"read as a source, this fails\n",
    );
    write(&root.join("2019/orders-9.csv"), b"neither, is, this\n");
    gives_butterfree_rows(&format!("{}/2020/orders-*.csv", root.display()));
    gives_butterfree_rows(&format!("{}/*/orders-[01].csv", root.display()));

    let none = format!("{}/2021-*.csv", root.display());
    let err = fails(&none);
    assert!(
        err.contains(&none) && err.contains("no data file matches"),
        "{err}"
    );
}

#[test]
fn gzip_and_zstd_files_are_read_as_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("compressed");
    let texts = parts(3);
    for (i, text) in texts.iter().enumerate() {
        write(&root.join(format!("part-{i}.csv")), text.as_bytes());
    }
    compress("gzip", &root.join("part-0.csv"));
    compress("zstd", &root.join("part-1.csv"));
    gives_butterfree_rows(&root.to_string_lossy());

    // One compressed file as the whole source.
    let one = dir.path().join("one/input.csv");
    write(
        &one,
        std::fs::read(fixtures_dir().join("input.csv"))
            .unwrap()
            .as_slice(),
    );
    let gz = compress("gzip", &one);
    gives_butterfree_rows(&gz.to_string_lossy());

    // Not gzip inside: the error names the file and what it was read as.
    let fake = dir.path().join("fake/input.csv.gz");
    write(&fake, texts[0].as_bytes());
    let err = fails(&fake.to_string_lossy());
    assert!(
        err.contains(&*fake.to_string_lossy())
            && err.contains("cannot decompress the file as gzip"),
        "{err}"
    );
}

#[test]
fn hive_partition_directories_give_a_declared_column_its_value() {
    // `cpf=x/…`: the files do not hold the key column; the path gives it.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hive");
    let header = "order_id,order_timestamp,chargeback_timestamp";
    let mut by_cpf: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in input_rows() {
        let f: Vec<&str> = row.split(',').collect();
        by_cpf
            .entry(f[2].to_string())
            .or_default()
            .push(format!("{},{},{}", f[0], f[1], f[3]));
    }
    assert_eq!(by_cpf.len(), 3);
    for (cpf, rows) in &by_cpf {
        let text = format!("{header}\n{}\n", rows.join("\n"));
        write(&root.join(format!("cpf={cpf}/part-0.csv")), text.as_bytes());
    }
    gives_butterfree_rows(&root.to_string_lossy());

    // A file outside the partitioning is named.
    write(&root.join("stray.csv"), format!("{HEADER}\n").as_bytes());
    let err = fails(&root.to_string_lossy());
    assert!(
        err.contains("stray.csv") && err.contains("partition directories"),
        "{err}"
    );
}

#[test]
fn an_object_store_prefix_is_read_as_its_objects_compressed_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let texts = parts(3);
    let put = |name: &str, bytes: Vec<u8>| {
        let at =
            FileLocation::parse(&format!("memory://many-files/in/{name}"), Path::new("/")).unwrap();
        featurestore_runtime::io::block_on(at.store().put(at.path(), PutPayload::from(bytes)))
            .unwrap();
    };
    let plain = dir.path().join("part-1.csv");
    write(&plain, texts[1].as_bytes());
    let gz = dir.path().join("part-0.csv");
    write(&gz, texts[0].as_bytes());
    let gz = compress("gzip", &gz);
    put("year=2020/part-0.csv.gz", std::fs::read(&gz).unwrap());
    put("year=2020/part-1.csv", texts[1].as_bytes().to_vec());
    put("year=2020/part-2.csv", texts[2].as_bytes().to_vec());
    put("year=2020/_SUCCESS", Vec::new());
    gives_butterfree_rows("memory://many-files/in");

    let err = fails("memory://many-files/elsewhere");
    assert!(
        err.contains("memory://many-files/elsewhere") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn a_directory_without_data_files_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("empty-export");
    write(&root.join("_SUCCESS"), b"");
    let err = fails(&root.to_string_lossy());
    assert!(
        err.contains(&*root.to_string_lossy()) && err.contains("holds no data file"),
        "{err}"
    );
    // Every part empty: the run would empty its range, so it is refused.
    write(&root.join("part-0.csv"), format!("{HEADER}\n").as_bytes());
    let err = fails(&root.to_string_lossy());
    assert!(err.contains("no rows in any of its 1 file(s)"), "{err}");
}
