//! CQL, the dialect of Cassandra and ScyllaDB: the online table of a
//! feature set as that backend would create it. Kept out of the declared
//! model, which names no backend.

use crate::spec::{DataType, FeatureSetSpec, TIMESTAMP_COLUMN};

/// The Cassandra/ScyllaDB type of a column of type `dtype`.
pub const fn cql_type(dtype: DataType) -> &'static str {
    match dtype {
        DataType::Bool => "boolean",
        DataType::Int32 => "int",
        DataType::Int64 => "bigint",
        DataType::Float32 => "float",
        DataType::Float64 => "double",
        DataType::String => "text",
        DataType::Date => "date",
        DataType::Timestamp => "timestamp",
        DataType::List(inner) => match inner {
            DataType::Bool => "list<boolean>",
            DataType::Int32 => "list<int>",
            DataType::Int64 => "list<bigint>",
            DataType::Float32 => "list<float>",
            DataType::Float64 => "list<double>",
            DataType::String => "list<text>",
            DataType::Date => "list<date>",
            DataType::Timestamp => "list<timestamp>",
            DataType::List(_) => "list<blob>",
        },
    }
}

/// The CQL statement that creates the feature set's online table: the key
/// columns (the partition key), `timestamp`, and one column per output.
pub fn create_table(spec: &FeatureSetSpec, keyspace: Option<&str>) -> String {
    let table = match keyspace {
        Some(ks) => format!("{ks}.{}", spec.name),
        None => spec.name.to_string(),
    };
    let mut cols: Vec<String> = spec
        .keys
        .iter()
        .map(|k| format!("    {} {}", k.name, cql_type(k.dtype)))
        .collect();
    cols.push(format!(
        "    {TIMESTAMP_COLUMN} {}",
        cql_type(DataType::Timestamp)
    ));
    cols.extend(
        spec.outputs
            .iter()
            .map(|o| format!("    {} {}", o.name, cql_type(o.dtype))),
    );
    let keys: Vec<&str> = spec.key_names().collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n{},\n    PRIMARY KEY (({}))\n);",
        cols.join(",\n"),
        keys.join(", ")
    )
}
