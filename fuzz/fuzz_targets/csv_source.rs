//! Any bytes as a source's CSV file, under each `on_bad_rows` policy:
//! reading never panics; it gives typed rows with no null in a non-`Option`
//! column, or an error naming the file.
#![no_main]

use featurestore_runtime::source::{read, SourceLocations};
use featurestore_runtime::spec::{ColumnSpec, DataType, Format, OnBadRows, SourceKind, SourceSpec};
use libfuzzer_sys::fuzz_target;

const fn column(name: &'static str, dtype: DataType, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        dtype,
        nullable,
        description: "",
    }
}

const COLUMNS: &[ColumnSpec] = &[
    column("id", DataType::String, false),
    column("at", DataType::Timestamp, false),
    column("n", DataType::Int64, true),
    column("x", DataType::Float64, true),
    column("day", DataType::Date, true),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, csv)) = data.split_first() else {
        return;
    };
    thread_local! {
        static DIR: std::path::PathBuf = {
            let dir = std::env::temp_dir().join(format!("fs-fuzz-csv-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            dir
        };
    }
    let dir = DIR.with(Clone::clone);
    let file = dir.join("events.csv");
    std::fs::write(&file, csv).expect("write input");
    let policy = OnBadRows::ALL[usize::from(selector) % 3];
    let spec = SourceSpec {
        name: "events",
        description: "",
        kind: SourceKind::File {
            path: "events.csv",
            format: Format::Csv,
        },
        columns: COLUMNS,
        on_bad_rows: policy,
        time_columns: &[],
        derived: &[],
        preprocess: featurestore_runtime::spec::Preprocessing::NONE,
    };
    let locations =
        SourceLocations::new(&dir).with_quarantine(dir.join("quarantine").to_string_lossy());
    match read(&spec, &locations).and_then(|extract| {
        extract
            .frame
            .collect()
            .map(|df| (df, extract.rejected))
            .map_err(|e| featurestore_runtime::Error::Polars {
                context: "collect".into(),
                source: e,
            })
    }) {
        Ok((df, rejected)) => {
            assert_eq!(df.width(), COLUMNS.len());
            assert!(df.height() > 0, "an empty read succeeded");
            for c in COLUMNS.iter().filter(|c| !c.nullable) {
                assert_eq!(df.column(c.name).unwrap().null_count(), 0, "{}", c.name);
            }
            if policy == OnBadRows::Fail {
                assert!(rejected.is_empty());
            }
            for r in rejected {
                assert!(r.rows > 0);
                if let Some(q) = r.quarantine {
                    let _ = std::fs::remove_file(q);
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("events.csv") || message.contains("collect"),
                "{message}"
            );
        }
    }
});
