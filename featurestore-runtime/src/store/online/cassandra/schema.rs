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
    let declared: Vec<(String, &str)> = declared_columns(spec)
        .into_iter()
        .map(|(name, ty)| (name.to_string(), ty))
        .collect();
    table_differences(spec, &declared, stored, |_| true)
}

/// The table of `spec`'s entity: its key columns' names, joined by `__`
/// (`cpf`; `user_id__merchant_id`). Every feature set of those keys writes
/// its columns into it when `entity_tables` is on.
pub fn entity_table(spec: &FeatureSetSpec) -> String {
    spec.key_names().collect::<Vec<_>>().join("__")
}

/// The column of `spec`'s `column` (`timestamp` or an output) in its
/// entity's table: `{feature_set}__{column}`, so that feature sets of one
/// entity never share a column and a feature set's columns are known by
/// their prefix.
pub fn entity_column(spec: &FeatureSetSpec, column: &str) -> String {
    format!("{}__{column}", spec.name)
}

/// `spec`'s columns in its entity's table, with their CQL types.
pub fn entity_columns(spec: &FeatureSetSpec) -> Vec<(String, &'static str)> {
    declared_columns(spec)
        .into_iter()
        .map(|(name, ty)| (entity_column(spec, name), ty))
        .collect()
}

/// How `spec`'s part of its entity's table differs from its declaration:
/// the key, its columns; another feature set's columns are not its concern.
pub fn entity_differences(spec: &FeatureSetSpec, stored: &[StoredColumn]) -> Vec<Difference> {
    let prefix = entity_column(spec, "");
    table_differences(spec, &entity_columns(spec), stored, |c| {
        c.starts_with(&prefix)
    })
}

/// The differences of a table of `spec`'s keys and the `declared` columns;
/// stored columns that `owns` says belong to the declaration and that it
/// does not declare are extra.
fn table_differences(
    spec: &FeatureSetSpec,
    declared: &[(String, &str)],
    stored: &[StoredColumn],
    owns: impl Fn(&str) -> bool,
) -> Vec<Difference> {
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
    for (name, ty) in declared {
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
        if owns(&c.name) && !declared.iter().any(|(name, _)| *name == c.name) {
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

/// The CQL creating `spec`'s entity table with `spec`'s columns (another
/// feature set's `migrate apply` adds its own).
fn create_entity_table(spec: &FeatureSetSpec, keyspace: &str) -> String {
    let mut cols: Vec<String> = spec
        .keys
        .iter()
        .map(|k| format!("    {} {}", k.name, cql_type(k.dtype)))
        .collect();
    cols.extend(
        entity_columns(spec)
            .iter()
            .map(|(name, ty)| format!("    {name} {ty}")),
    );
    format!(
        "CREATE TABLE IF NOT EXISTS {keyspace}.{} (\n{},\n    PRIMARY KEY (({}))\n);",
        entity_table(spec),
        cols.join(",\n"),
        spec.key_names().collect::<Vec<_>>().join(", ")
    )
}

/// The steps that make `spec`'s part of its entity's table match its
/// declaration, given the table's columns (`None`: no table). Its columns
/// are added and dropped in place; a changed key or type recreates the
/// table, which loses every feature set's rows of the entity there (their
/// own tables keep them; each one's `migrate apply` adds its columns back and
/// its next run fills them).
pub fn entity_plan(
    spec: &FeatureSetSpec,
    keyspace: &str,
    stored: Option<&[StoredColumn]>,
) -> Vec<MigrationStep> {
    let table = format!("{keyspace}.{}", entity_table(spec));
    let Some(stored) = stored else {
        return vec![step(
            create_entity_table(spec, keyspace),
            Some(format!(
                "the entity table of `{}`: one row per key for every feature set of ({})",
                spec.name,
                spec.key_names().collect::<Vec<_>>().join(", ")
            )),
            false,
        )];
    };
    let diffs = entity_differences(spec, stored);
    let recreate: Vec<String> = diffs
        .iter()
        .filter(|d| matches!(d, Difference::Key { .. } | Difference::Type { .. }))
        .map(ToString::to_string)
        .collect();
    if !recreate.is_empty() {
        return vec![
            step(
                format!("DROP TABLE {table};"),
                Some(format!(
                    "entity table: {}; Cassandra cannot alter that, so the table is dropped and created again: the rows of every feature set of the entity there are lost (their own tables keep them) until each one's `migrate apply` and next run",
                    recreate.join("; ")
                )),
                true,
            ),
            step(create_entity_table(spec, keyspace), None, false),
        ];
    }
    diffs
        .into_iter()
        .filter_map(|d| match d {
            Difference::Missing { column, cql_type } => Some(step(
                format!("ALTER TABLE {table} ADD {column} {cql_type};"),
                Some(format!(
                    "new column of `{}` in its entity table; null in every stored row until its next run",
                    spec.name
                )),
                false,
            )),
            Difference::Extra { column } => Some(step(
                format!("ALTER TABLE {table} DROP {column};"),
                Some(format!(
                    "no longer declared: the values of `{column}` in every row of the entity table are lost"
                )),
                true,
            )),
            Difference::Key { .. } | Difference::Type { .. } => None,
        })
        .collect()
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

    #[test]
    fn an_entity_table_is_planned_for_the_feature_set_s_own_columns_only() {
        assert_eq!(entity_table(&SPEC), "id");
        let steps = entity_plan(&SPEC, "ks", None);
        assert_eq!(steps.len(), 1);
        assert_eq!(
            statement_of(&steps[0]),
            "CREATE TABLE IF NOT EXISTS ks.id (\n    id text,\n    unit__timestamp timestamp,\n    unit__n bigint,\n    PRIMARY KEY ((id))\n);"
        );
        // Another feature set's columns stay; this one's missing column is
        // added and its undeclared one dropped.
        let stored = vec![
            col("id", "partition_key", 0, "text"),
            col("other__timestamp", "regular", -1, "timestamp"),
            col("other__n", "regular", -1, "text"),
            col("unit__timestamp", "regular", -1, "timestamp"),
            col("unit__gone", "regular", -1, "bigint"),
        ];
        let steps = entity_plan(&SPEC, "ks", Some(&stored));
        let cql: Vec<&str> = steps.iter().map(statement_of).collect();
        assert_eq!(
            cql,
            [
                "ALTER TABLE ks.id ADD unit__n bigint;",
                "ALTER TABLE ks.id DROP unit__gone;"
            ]
        );
        assert_eq!(
            steps.iter().map(|s| s.destructive).collect::<Vec<_>>(),
            [false, true]
        );
        // A changed type of its own column recreates the table, which loses
        // the other feature sets' columns too: destructive, and said.
        let mut changed = stored.clone();
        changed[4] = col("unit__n", "regular", -1, "int");
        let steps = entity_plan(&SPEC, "ks", Some(&changed));
        assert_eq!(statement_of(&steps[0]), "DROP TABLE ks.id;");
        assert!(steps[0].destructive);
        assert!(steps[0]
            .statement
            .contains("every feature set of the entity"));
    }
}
