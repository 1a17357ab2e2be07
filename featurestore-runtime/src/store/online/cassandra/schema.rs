//! A feature set's table as declared against the table in the keyspace:
//! the differences, and the CQL that removes them (`features migrate`).
//! Pure: the store reads `system_schema.columns` and hands the rows here.

use super::super::cql::{self, cql_type};
use super::super::MigrationStep;
use crate::spec::{DataType, FeatureSetSpec, TIMESTAMP_COLUMN};

/// A column of a table as `system_schema.columns` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredColumn {
    /// Its name.
    pub name: String,
    /// `partition_key`, `clustering` or `regular`.
    pub kind: String,
    /// Its place in the partition key (`-1` for other columns).
    pub position: i32,
    /// Its CQL type, as the server writes it (`bigint`, `list<text>`).
    pub cql_type: String,
}

/// One way a table differs from its declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The partition key is not the declared keys (names, types or order).
    Key {
        /// The table's, `name type` each.
        stored: Vec<String>,
        /// The declaration's.
        declared: Vec<String>,
    },
    /// A declared column the table lacks.
    Missing {
        /// The column.
        column: String,
        /// Its declared CQL type.
        cql_type: String,
    },
    /// A table column nothing declares.
    Extra {
        /// The column.
        column: String,
    },
    /// A column of another type than declared.
    Type {
        /// The column.
        column: String,
        /// The table's type.
        stored: String,
        /// The declared type.
        declared: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Key { stored, declared } => write!(
                f,
                "its partition key is ({}) but the declared keys are ({})",
                stored.join(", "),
                declared.join(", ")
            ),
            Difference::Missing { column, cql_type } => {
                write!(f, "it lacks the declared column `{column}` ({cql_type})")
            }
            Difference::Extra { column } => {
                write!(f, "its column `{column}` is no longer declared")
            }
            Difference::Type {
                column,
                stored,
                declared,
            } => write!(
                f,
                "its column `{column}` is {stored} but is declared {declared}"
            ),
        }
    }
}

/// The declared columns of `spec`'s table apart from its keys: `timestamp`
/// and the outputs, with their CQL types.
fn declared_columns(spec: &FeatureSetSpec) -> Vec<(&'static str, &'static str)> {
    std::iter::once((TIMESTAMP_COLUMN, cql_type(DataType::Timestamp)))
        .chain(spec.outputs.iter().map(|o| (o.name, cql_type(o.dtype))))
        .collect()
}

/// How the table of `stored` columns differs from `spec`'s declaration.
pub fn differences(spec: &FeatureSetSpec, stored: &[StoredColumn]) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut stored_key: Vec<&StoredColumn> = stored
        .iter()
        .filter(|c| c.kind == "partition_key" || c.kind == "clustering")
        .collect();
    stored_key.sort_by_key(|c| (c.kind != "partition_key", c.position));
    let stored_key: Vec<String> = stored_key
        .iter()
        .map(|c| match c.kind.as_str() {
            "clustering" => format!("{} {} (clustering)", c.name, c.cql_type),
            _ => format!("{} {}", c.name, c.cql_type),
        })
        .collect();
    let declared_key: Vec<String> = spec
        .keys
        .iter()
        .map(|k| format!("{} {}", k.name, cql_type(k.dtype)))
        .collect();
    if stored_key != declared_key {
        out.push(Difference::Key {
            stored: stored_key,
            declared: declared_key,
        });
    }
    let regular: Vec<&StoredColumn> = stored.iter().filter(|c| c.kind == "regular").collect();
    let declared = declared_columns(spec);
    for (name, ty) in &declared {
        match regular.iter().find(|c| c.name == *name) {
            None => out.push(Difference::Missing {
                column: name.to_string(),
                cql_type: ty.to_string(),
            }),
            Some(c) if c.cql_type != *ty => out.push(Difference::Type {
                column: name.to_string(),
                stored: c.cql_type.clone(),
                declared: ty.to_string(),
            }),
            Some(_) => {}
        }
    }
    for c in regular {
        if !declared.iter().any(|(name, _)| *name == c.name) {
            out.push(Difference::Extra {
                column: c.name.clone(),
            });
        }
    }
    out
}

/// Separates a step's CQL from the explanation printed after it.
pub const EXPLAIN: &str = "\n    -- ";

/// The CQL of a step (without its explanation).
pub fn statement_of(step: &MigrationStep) -> &str {
    step.statement
        .split(EXPLAIN)
        .next()
        .unwrap_or(&step.statement)
}

fn step(cql: String, why: Option<String>, destructive: bool) -> MigrationStep {
    let statement = match why {
        Some(why) => format!("{cql}{EXPLAIN}{why}"),
        None => cql,
    };
    MigrationStep {
        statement,
        destructive,
    }
}

/// The steps that make `spec`'s table in `keyspace` match its declaration,
/// given the table's columns (`None`: no table) and whether the keyspace
/// exists. A new output is added in place; a removed one is dropped (its
/// values are lost); a changed key or type recreates the table, because
/// Cassandra alters neither and refuses to add a dropped column back with
/// another type (every row is lost; the next run writes them again).
pub fn plan(
    spec: &FeatureSetSpec,
    keyspace: &str,
    replication_cql: &str,
    keyspace_exists: bool,
    stored: Option<&[StoredColumn]>,
) -> Vec<MigrationStep> {
    let table = format!("{keyspace}.{}", spec.name);
    let mut steps = Vec::new();
    if !keyspace_exists {
        steps.push(step(
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication_cql};"
            ),
            None,
            false,
        ));
    }
    let Some(stored) = stored else {
        steps.push(step(cql::create_table(spec, Some(keyspace)), None, false));
        return steps;
    };
    let diffs = differences(spec, stored);
    let recreate: Vec<String> = diffs
        .iter()
        .filter(|d| matches!(d, Difference::Key { .. } | Difference::Type { .. }))
        .map(ToString::to_string)
        .collect();
    if !recreate.is_empty() {
        steps.push(step(
            format!("DROP TABLE {table};"),
            Some(format!(
                "{}; Cassandra cannot alter that, so the table is dropped and created again: every row of `{}` is lost until its next run writes them",
                recreate.join("; "),
                spec.name
            )),
            true,
        ));
        steps.push(step(cql::create_table(spec, Some(keyspace)), None, false));
        return steps;
    }
    for d in diffs {
        match d {
            Difference::Missing { column, cql_type } => steps.push(step(
                format!("ALTER TABLE {table} ADD {column} {cql_type};"),
                Some(format!(
                    "new column; null in every stored row until the next run of `{}`",
                    spec.name
                )),
                false,
            )),
            Difference::Extra { column } => steps.push(step(
                format!("ALTER TABLE {table} DROP {column};"),
                Some(format!(
                    "no longer declared: the values of `{column}` in every row are lost"
                )),
                true,
            )),
            Difference::Key { .. } | Difference::Type { .. } => {}
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::online::tests::SPEC;

    fn col(name: &str, kind: &str, position: i32, ty: &str) -> StoredColumn {
        StoredColumn {
            name: name.into(),
            kind: kind.into(),
            position,
            cql_type: ty.into(),
        }
    }

    fn matching() -> Vec<StoredColumn> {
        vec![
            col("id", "partition_key", 0, "text"),
            col("timestamp", "regular", -1, "timestamp"),
            col("n", "regular", -1, "bigint"),
        ]
    }

    #[test]
    fn a_matching_table_needs_nothing() {
        assert_eq!(differences(&SPEC, &matching()), []);
        assert_eq!(plan(&SPEC, "ks", "{}", true, Some(&matching())), []);
    }

    #[test]
    fn no_keyspace_and_no_table_are_created() {
        let steps = plan(
            &SPEC,
            "ks",
            "{'class': 'SimpleStrategy', 'replication_factor': 1}",
            false,
            None,
        );
        assert_eq!(steps.len(), 2);
        assert!(steps[0].statement.starts_with(
            "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy'"
        ));
        assert!(steps[1]
            .statement
            .starts_with("CREATE TABLE IF NOT EXISTS ks.unit ("));
        assert!(steps.iter().all(|s| !s.destructive));
    }

    #[test]
    fn a_missing_column_is_added_an_extra_one_dropped() {
        let mut stored = matching();
        stored.remove(2);
        let steps = plan(&SPEC, "ks", "{}", true, Some(&stored));
        assert_eq!(steps.len(), 1);
        assert_eq!(statement_of(&steps[0]), "ALTER TABLE ks.unit ADD n bigint;");
        assert!(!steps[0].destructive);
        let mut stored = matching();
        stored.push(col("gone", "regular", -1, "double"));
        let steps = plan(&SPEC, "ks", "{}", true, Some(&stored));
        assert_eq!(statement_of(&steps[0]), "ALTER TABLE ks.unit DROP gone;");
        assert!(steps[0].destructive && steps[0].statement.contains("lost"));
    }

    #[test]
    fn a_changed_type_or_key_recreates_the_table() {
        let mut stored = matching();
        stored[2].cql_type = "text".into();
        let steps = plan(&SPEC, "ks", "{}", true, Some(&stored));
        assert_eq!(statement_of(&steps[0]), "DROP TABLE ks.unit;");
        assert!(steps[0].destructive);
        assert!(steps[0]
            .statement
            .contains("`n` is text but is declared bigint"));
        assert!(statement_of(&steps[1]).starts_with("CREATE TABLE"));
        let mut stored = matching();
        stored[0].cql_type = "int".into();
        let d = differences(&SPEC, &stored);
        assert_eq!(
            d,
            [Difference::Key {
                stored: vec!["id int".into()],
                declared: vec!["id text".into()]
            }]
        );
    }
}
