//! How data is written: the file format of a source, and the unit of times
//! written as epoch counts.

/// The file format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON, one object per line.
    NdJson,
}

impl Format {
    /// The formats, by their names in attributes and configuration.
    pub const ALL: [Format; 3] = [Format::Csv, Format::Parquet, Format::NdJson];

    /// The name used in attributes and configuration.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::NdJson => "ndjson",
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format a file extension (without the dot, any case) implies:
    /// `csv`, `parquet`, `ndjson` or `jsonl`.
    pub fn from_extension(extension: &str) -> Option<Format> {
        match extension.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "parquet" => Some(Format::Parquet),
            "ndjson" | "jsonl" => Some(Format::NdJson),
            _ => None,
        }
    }

    /// The format the extension of the last segment of a path or URL implies,
    /// seen through a compression extension: `events.csv.gz` is CSV.
    pub fn from_path(path: &str) -> Option<Format> {
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let file = match Compression::from_path(file) {
            Some(_) => file.rsplit_once('.').map_or(file, |(stem, _)| stem),
            None => file,
        };
        let (_, extension) = file.rsplit_once('.')?;
        Format::from_extension(extension)
    }
}

/// How a text source file is compressed, said by its name's last extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `.gz`, `.gzip`: gzip (several members are read one after another).
    Gzip,
    /// `.zst`, `.zstd`: Zstandard.
    Zstd,
}

impl Compression {
    /// The compression the last extension of a path or URL names, if any.
    pub fn from_path(path: &str) -> Option<Compression> {
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (_, extension) = file.rsplit_once('.')?;
        match extension.to_ascii_lowercase().as_str() {
            "gz" | "gzip" => Some(Compression::Gzip),
            "zst" | "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The name in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The unit of an epoch count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpochUnit {
    /// `"s"`
    Seconds,
    /// `"ms"`
    Millis,
    /// `"us"`
    Micros,
}

impl EpochUnit {
    /// The units, by their names in attributes.
    pub const ALL: [EpochUnit; 3] = [EpochUnit::Seconds, EpochUnit::Millis, EpochUnit::Micros];

    /// The name used in attributes.
    pub const fn name(self) -> &'static str {
        match self {
            EpochUnit::Seconds => "s",
            EpochUnit::Millis => "ms",
            EpochUnit::Micros => "us",
        }
    }

    /// The unit named `name`.
    pub fn from_name(name: &str) -> Option<EpochUnit> {
        EpochUnit::ALL.into_iter().find(|u| u.name() == name)
    }

    /// Microseconds in one unit.
    pub const fn micros(self) -> i64 {
        match self {
            EpochUnit::Seconds => 1_000_000,
            EpochUnit::Millis => 1_000,
            EpochUnit::Micros => 1,
        }
    }

    /// The unit as a word, plural.
    pub const fn word(self) -> &'static str {
        match self {
            EpochUnit::Seconds => "seconds",
            EpochUnit::Millis => "milliseconds",
            EpochUnit::Micros => "microseconds",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("CSV"), None);
        assert_eq!(Format::from_name("json"), None);
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::from_extension("JSONL"), Some(Format::NdJson));
        assert_eq!(Format::from_extension("txt"), None);
        assert_eq!(Format::from_path("data/a.csv"), Some(Format::Csv));
        assert_eq!(Format::from_path("s3://b/x.PARQUET"), Some(Format::Parquet));
        assert_eq!(Format::from_path("a.jsonl"), Some(Format::NdJson));
        assert_eq!(Format::from_path("dir.v2/file"), None);
        assert_eq!(Format::from_path("data/"), None);
    }

    #[test]
    fn epoch_units() {
        assert_eq!(EpochUnit::from_name("ms"), Some(EpochUnit::Millis));
        assert_eq!(EpochUnit::from_name("ns"), None);
        assert_eq!(EpochUnit::Seconds.micros(), 1_000_000);
        assert_eq!(EpochUnit::Micros.word(), "microseconds");
    }

    #[test]
    fn the_format_is_seen_through_a_compression_extension() {
        assert_eq!(
            Format::from_path("s3://b/in/events.csv.gz"),
            Some(Format::Csv)
        );
        assert_eq!(Format::from_path("events.JSONL.zst"), Some(Format::NdJson));
        assert_eq!(Format::from_path("events.gz"), None);
        assert_eq!(
            Compression::from_path("a/b.csv.GZ"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_path("b.csv.zstd"),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::from_path("b.csv"), None);
    }
}
