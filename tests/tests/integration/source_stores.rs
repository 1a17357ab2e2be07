//! A source read from an object store (`memory://`, the in-process store)
//! is read by the same code as a file on disk: the same rows, the same
//! bad rows under each `on_bad_rows` policy, the same messages but for the
//! location, the same quarantine files. Also what the reader refuses
//! about a file as a whole, and line numbers in files with `\r\n` ends.

use std::path::Path;

use chrono::NaiveDateTime;
use featurestore_runtime::location::FileLocation;
use featurestore_runtime::source::{read, Extract, SourceLocations};
use featurestore_runtime::spec::OnBadRows;
use featurestore_runtime::{source, Error, Source};
use object_store::{ObjectStoreExt, PutPayload};
use polars::prelude::*;
use tests::frame_rows;

#[derive(Debug)]
#[source(path = "clicks.csv", name = "clicks")]
pub struct Clicks {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
}

#[derive(Debug)]
#[source(path = "clicks.parquet", name = "clicks")]
pub struct ClicksParquet {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
}

#[derive(Debug)]
#[source(path = "clicks.ndjson", name = "clicks")]
pub struct ClicksNdjson {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
}

/// Line 3 has a field too few, line 5 a value that is no integer, line 6
/// a time that is no time; lines 2, 4 and 7 are good.
const DIRTY: &str = "uid,at,ms\n\
u1,2024-01-01 10:00:00,5\n\
u2,2024-01-01 11:00:00\n\
u2,2024-01-02 12:00:00,7\n\
u1,2024-01-02 10:00:00,oops\n\
u3,noon,4\n\
u1,2024-01-02 13:00:00,3\n";

/// The good rows of [`DIRTY`], as read.
const GOOD: [[&str; 3]; 3] = [
    ["u1", "2024-01-01 10:00:00", "5"],
    ["u2", "2024-01-02 12:00:00", "7"],
    ["u1", "2024-01-02 13:00:00", "3"],
];

/// Puts `bytes` at `url`, an object of an in-process store.
fn put(url: &str, bytes: &[u8]) {
    let location = FileLocation::parse(url, Path::new("/")).unwrap();
    let payload = PutPayload::from(bytes.to_vec());
    featurestore_runtime::io::block_on(location.store().put(location.path(), payload)).unwrap();
}

/// The object at `url`, an object of an in-process store.
fn get(url: &str) -> Vec<u8> {
    let location = FileLocation::parse(url, Path::new("/")).unwrap();
    featurestore_runtime::io::block_on(async {
        location.store().get(location.path()).await?.bytes().await
    })
    .unwrap()
    .to_vec()
}

/// `text` as a local file and as an object, and the locations reading
/// each: `(local path, object URL, local locations, object locations)`.
/// `store` names the in-process store, one per test.
fn both(
    dir: &Path,
    store: &str,
    file: &str,
    bytes: &[u8],
) -> (String, String, SourceLocations, SourceLocations) {
    let path = dir.join(file);
    std::fs::write(&path, bytes).unwrap();
    let url = format!("memory://{store}/in/{file}");
    put(&url, bytes);
    let local = SourceLocations::new(dir);
    let object = SourceLocations::new(dir).with_override("clicks", &url);
    (path.to_string_lossy().into_owned(), url, local, object)
}

fn rows(extract: &Extract) -> Vec<Vec<String>> {
    frame_rows(&extract.frame.clone().collect().unwrap()).1
}

/// The location and message of a source error.
fn source_error(e: Error) -> (String, String) {
    match e {
        Error::Source {
            location, message, ..
        } => (location, message),
        other => panic!("not a source error: {other}"),
    }
}

#[test]
fn a_bad_csv_fails_and_skips_the_same_from_disk_and_from_an_object_store() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url, local, object) =
        both(dir.path(), "csv-policies", "clicks.csv", DIRTY.as_bytes());

    // "fail": the same message, naming the location read.
    let at_disk = source_error(read(&Clicks::SPEC, &local).unwrap_err());
    let at_store = source_error(read(&Clicks::SPEC, &object).unwrap_err());
    assert_eq!(at_disk.0, path);
    assert_eq!(at_store.0, url);
    assert_eq!(at_disk.1, at_store.1);
    // The broken record is found by the first pass, before any value is read.
    assert!(
        at_store
            .1
            .starts_with("line 3: 2 field(s), expected 3 as in the header; fix the data"),
        "{}",
        at_store.1
    );
    // With the broken record fixed, the value errors fail the same way.
    let fixed = DIRTY.replace("u2,2024-01-01 11:00:00\n", "u2,2024-01-01 11:00:00,1\n");
    let (path, url, local, object) = both(dir.path(), "csv-values", "clicks.csv", fixed.as_bytes());
    let at_disk = read(&Clicks::SPEC, &local).unwrap_err().to_string();
    let at_store = read(&Clicks::SPEC, &object).unwrap_err().to_string();
    assert_eq!(at_disk.replace(&path, &url), at_store);
    assert!(
        at_store.contains(&format!(
            "({url}): line 5: column `ms`: `oops` is not an integer (2 bad rows in all"
        )),
        "{at_store}"
    );

    // "skip": the same rows, the same count, each naming its location.
    let (path, url, local, object) = both(dir.path(), "csv-skip", "clicks.csv", DIRTY.as_bytes());
    let at_disk = read(&Clicks::SPEC, &local.with_policy("clicks", OnBadRows::Skip)).unwrap();
    let at_store = read(
        &Clicks::SPEC,
        &object.with_policy("clicks", OnBadRows::Skip),
    )
    .unwrap();
    assert_eq!(rows(&at_disk), GOOD.map(|r| r.map(String::from).to_vec()));
    assert_eq!(rows(&at_store), rows(&at_disk));
    let [on_disk] = &at_disk.rejected[..] else {
        panic!("{:?}", at_disk.rejected)
    };
    let [in_store] = &at_store.rejected[..] else {
        panic!("{:?}", at_store.rejected)
    };
    assert_eq!(
        (on_disk.rows, on_disk.location.as_str()),
        (3, path.as_str())
    );
    assert_eq!(
        (in_store.rows, in_store.location.as_str()),
        (3, url.as_str())
    );
    assert_eq!((&on_disk.quarantine, &in_store.quarantine), (&None, &None));
}

#[test]
fn quarantine_in_an_object_store_holds_what_it_holds_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (path, url, local, object) =
        both(dir.path(), "csv-quarantine", "clicks.csv", DIRTY.as_bytes());
    let quarantined = |locations: SourceLocations, quarantine: String| {
        let locations = locations
            .with_policy("clicks", OnBadRows::Quarantine)
            .with_quarantine(quarantine);
        let extract = read(&Clicks::SPEC, &locations).unwrap();
        assert_eq!(rows(&extract), GOOD.map(|r| r.map(String::from).to_vec()));
        let [rejected] = &extract.rejected[..] else {
            panic!("{:?}", extract.rejected)
        };
        assert_eq!(rejected.rows, 3);
        rejected.quarantine.clone().expect("a quarantine file")
    };
    let expected = |location: &str| {
        format!(
            "file,place,reason,row\n\
             {location},line 3,\"2 field(s), expected 3 as in the header\",\"u2,2024-01-01 11:00:00\"\n\
             {location},line 5,column `ms`: `oops` is not an integer,\"u1,2024-01-02 10:00:00,oops\"\n\
             {location},line 6,\"column `at`: `noon` is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff], UTC)\",\"u3,noon,4\"\n"
        )
    };

    // A local file's rows, quarantined on disk and in a store: the same bytes.
    let on_disk = quarantined(
        local.clone(),
        dir.path().join("q").to_string_lossy().into_owned(),
    );
    assert!(
        Path::new(&on_disk).starts_with(dir.path().join("q/clicks")),
        "{on_disk}"
    );
    let on_disk = std::fs::read_to_string(&on_disk).unwrap();
    assert_eq!(on_disk, expected(&path));
    let in_store = quarantined(local, "memory://csv-quarantine/q".to_string());
    assert!(
        in_store.starts_with("memory://csv-quarantine/q/clicks/") && in_store.ends_with(".csv"),
        "{in_store}"
    );
    assert_eq!(String::from_utf8(get(&in_store)).unwrap(), on_disk);

    // An object's rows: the same, but for the file they came from.
    let in_store = quarantined(object, "memory://csv-quarantine/q2".to_string());
    assert_eq!(String::from_utf8(get(&in_store)).unwrap(), expected(&url));
}

#[test]
fn parquet_and_ndjson_objects_read_the_rows_their_files_read() {
    let dir = tempfile::tempdir().unwrap();
    let events = [
        ("u1", "2024-01-01 10:00:00", Some(5)),
        ("u2", "2024-01-02 12:00:00", None),
        ("u1", "2024-01-03 09:30:00", Some(-2)),
    ];
    let expected: Vec<Vec<String>> = events
        .iter()
        .map(|(u, at, ms)| {
            vec![
                u.to_string(),
                at.to_string(),
                ms.map_or(String::new(), |m| m.to_string()),
            ]
        })
        .collect();

    let ndjson: String = events
        .iter()
        .map(|(u, at, ms)| {
            let ms = ms.map_or("null".to_string(), |m| m.to_string());
            format!("{{\"uid\":\"{u}\",\"at\":\"{at}\",\"ms\":{ms}}}\n")
        })
        .collect();
    let (_, _, local, object) = both(dir.path(), "ndjson", "clicks.ndjson", ndjson.as_bytes());
    let at_disk = read(&ClicksNdjson::SPEC, &local).unwrap();
    let at_store = read(&ClicksNdjson::SPEC, &object).unwrap();
    assert_eq!(rows(&at_disk), expected);
    assert_eq!(rows(&at_store), expected);

    let at: Vec<i64> = events
        .iter()
        .map(|e| {
            NaiveDateTime::parse_from_str(e.1, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_micros()
        })
        .collect();
    let mut df = DataFrame::new(
        events.len(),
        vec![
            Column::new("uid".into(), events.iter().map(|e| e.0).collect::<Vec<_>>()),
            Int64Chunked::from_vec("at".into(), at)
                .into_datetime(TimeUnit::Microseconds, None)
                .into_column(),
            Column::new("ms".into(), events.iter().map(|e| e.2).collect::<Vec<_>>()),
        ],
    )
    .unwrap();
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet).finish(&mut df).unwrap();
    let (_, _, local, object) = both(dir.path(), "parquet", "clicks.parquet", &parquet);
    let at_disk = read(&ClicksParquet::SPEC, &local).unwrap();
    let at_store = read(&ClicksParquet::SPEC, &object).unwrap();
    assert_eq!(rows(&at_disk), expected);
    assert_eq!(rows(&at_store), expected);
}

#[test]
fn a_missing_object_is_an_error_naming_its_url() {
    let dir = tempfile::tempdir().unwrap();
    put("memory://missing/data/2024/clicks.csv", DIRTY.as_bytes());
    // A prefix with objects under it is read as them (`many_files.rs`).
    for (url, needle) in [
        ("memory://missing/data/nowhere.csv", "no such file"),
        ("memory://missing/data/2025", "no such file"),
    ] {
        let locations = SourceLocations::new(dir.path()).with_override("clicks", url);
        let (location, message) = source_error(read(&Clicks::SPEC, &locations).unwrap_err());
        assert_eq!(location, url);
        assert!(message.starts_with(needle), "{message}");
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("clicks.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let locations = SourceLocations::new(dir.path());
    // Opening a FIFO blocks until a writer comes: a reader that opened it
    // would never answer, so the answer is awaited with a deadline.
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(read(&Clicks::SPEC, &locations).map(|_| ()));
    });
    let result = receive
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the read answers without a writer");
    let (location, message) = source_error(result.unwrap_err());
    assert_eq!(location, fifo.to_string_lossy());
    assert!(message.starts_with("is not a regular file"), "{message}");
}

#[test]
fn a_declared_column_named_twice_in_the_header_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clicks.csv"),
        "uid,at,ms,uid\nu1,2024-01-01 10:00:00,5,u2\n",
    )
    .unwrap();
    let locations = SourceLocations::new(dir.path()).with_policy("clicks", OnBadRows::Skip);
    let (_, message) = source_error(read(&Clicks::SPEC, &locations).unwrap_err());
    assert_eq!(
        message,
        "line 1: the header names column `uid` in fields 1 and 4; keep one, or rename the others"
    );
    // A column the source does not declare is not read: twice is harmless.
    std::fs::write(
        dir.path().join("clicks.csv"),
        "x,uid,at,ms,x\n1,u1,2024-01-01 10:00:00,5,2\n",
    )
    .unwrap();
    let extract = read(&Clicks::SPEC, &locations).unwrap();
    assert_eq!(rows(&extract), [["u1", "2024-01-01 10:00:00", "5"]]);
}

#[test]
fn lines_of_a_crlf_file_are_counted_as_in_an_lf_file() {
    let dir = tempfile::tempdir().unwrap();
    let crlf = DIRTY.replace('\n', "\r\n");
    let (path, url, local, object) = both(dir.path(), "crlf", "clicks.csv", crlf.as_bytes());
    let quarantined = |locations: SourceLocations, quarantine: &str| {
        let locations = locations
            .with_policy("clicks", OnBadRows::Quarantine)
            .with_quarantine(quarantine);
        let extract = read(&Clicks::SPEC, &locations).unwrap();
        assert_eq!(rows(&extract), GOOD.map(|r| r.map(String::from).to_vec()));
        extract.rejected[0].quarantine.clone().unwrap()
    };
    let expected = |location: &str| {
        format!(
            "file,place,reason,row\n\
             {location},line 3,\"2 field(s), expected 3 as in the header\",\"u2,2024-01-01 11:00:00\"\n\
             {location},line 5,column `ms`: `oops` is not an integer,\"u1,2024-01-02 10:00:00,oops\"\n\
             {location},line 6,\"column `at`: `noon` is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff], UTC)\",\"u3,noon,4\"\n"
        )
    };
    let q = dir.path().join("q").to_string_lossy().into_owned();
    let on_disk = quarantined(local.clone(), &q);
    assert_eq!(std::fs::read_to_string(on_disk).unwrap(), expected(&path));
    let in_store = quarantined(object, "memory://crlf/q");
    assert_eq!(String::from_utf8(get(&in_store)).unwrap(), expected(&url));
    // The first bad row, as "fail" names it.
    let (_, message) = source_error(read(&Clicks::SPEC, &local).unwrap_err());
    assert!(message.starts_with("line 3: 2 field(s)"), "{message}");
}
