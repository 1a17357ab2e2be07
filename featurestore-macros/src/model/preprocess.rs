//! A source's pre-processing steps, checked in order: each step's columns
//! must exist in the rows it receives, and the columns after the last step
//! are the source's columns for feature sets and datasets.

use featurestore_core::Aggregation;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, Lit, Type};

use super::aggregation::assertion;
use super::declaration::FillValue;
use crate::attr::{step_example, RawStep, RawValue};
use crate::ctxt::Errors;
use crate::sql;
use crate::symbol;

/// A column of the rows at some step.
#[derive(Clone)]
pub struct Col {
    /// Spanned where the column was declared (a field or a step).
    pub ident: Ident,
    pub name: String,
    pub ty: Type,
    pub description: String,
}

/// A value of `replace`, checked.
pub struct Value {
    pub value: FillValue,
    pub span: Span,
}

/// A checked step. Type assertions, which rustc checks, are `checks`.
pub enum Step {
    Filter {
        sql: String,
    },
    Replace {
        column: String,
        pairs: Vec<(Value, Value)>,
    },
    Pivot {
        keys: Vec<String>,
        timestamp: String,
        on: String,
        aggregation: Aggregation,
        value: String,
        columns: Vec<Col>,
        forward_fill: bool,
    },
    ExplodeJson {
        column: String,
        columns: Vec<Col>,
    },
    ForwardFill {
        columns: Vec<String>,
        keys: Vec<String>,
        timestamp: String,
    },
}

/// What rustc must check about a step: `assert::<ty>()` or, with a kind of
/// literal, `assert::<ty, kind>()`, reported at `span`.
pub struct Check {
    pub assert: &'static str,
    pub ty: Type,
    pub with: Option<Type>,
    pub span: Span,
}

/// A source's checked steps and the columns after the last one.
pub struct Preprocessing {
    pub steps: Vec<Step>,
    /// The source's columns after the last step.
    pub columns: Vec<Col>,
    pub checks: Vec<Check>,
}

/// The columns a step works on, at that step.
struct Rows {
    columns: Vec<Col>,
}

impl Rows {
    /// The column `ident` names, or an error under it listing the columns.
    fn find(&self, ident: &Ident, step: &Ident, errors: &mut Errors) -> Option<&Col> {
        let name = ident.unraw().to_string();
        let found = self.columns.iter().find(|c| c.name == name);
        if found.is_none() {
            let names: Vec<String> = self
                .columns
                .iter()
                .map(|c| format!("`{}`", c.name))
                .collect();
            errors.at(
                ident.span(),
                format!(
                    "no column `{name}` in the rows `{step}` receives: they have {}",
                    names.join(", ")
                ),
            );
        }
        found
    }

    /// Checks that new columns do not exist yet and are not declared twice.
    fn new_columns(
        &self,
        declared: &[(Ident, Type)],
        keep: &[&Col],
        describe: &dyn Fn(&str) -> String,
        errors: &mut Errors,
    ) -> Vec<Col> {
        let mut out: Vec<Col> = Vec::new();
        for (ident, ty) in declared {
            let name = ident.unraw().to_string();
            if keep.iter().any(|c| c.name == name) || out.iter().any(|c| c.name == name) {
                errors.at(
                    ident.span(),
                    format!("column `{name}` is declared twice: name each new column once"),
                );
                continue;
            }
            out.push(Col {
                ident: ident.clone(),
                name: name.clone(),
                ty: ty.clone(),
                description: describe(&name),
            });
        }
        out
    }
}

/// Checks the steps in order over `fields`, the columns as read.
pub fn check(raw: &[RawStep], fields: Vec<Col>, errors: &mut Errors) -> Preprocessing {
    let mut rows = Rows { columns: fields };
    let mut steps = Vec::new();
    let mut checks = Vec::new();
    for step in raw {
        match step {
            RawStep::Filter(lit) => {
                if let Err(message) = sql::check_expr(&lit.value()) {
                    errors.at(lit.span(), format!("invalid SQL in `filter`: {message}"));
                }
                steps.push(Step::Filter { sql: lit.value() });
            }
            RawStep::Replace {
                keyword,
                column,
                pairs,
            } => {
                let Some(col) = rows.find(column, keyword, errors).cloned() else {
                    continue;
                };
                if pairs.is_empty() {
                    errors.at(
                        keyword.span(),
                        format!(
                            "`replace` needs at least one value to replace, as in {}",
                            step_example(keyword)
                        ),
                    );
                }
                let mut checked: Vec<(Value, Value)> = Vec::new();
                for (from, to) in pairs {
                    let (Some(from), Some(to)) = (value(from, errors), value(to, errors)) else {
                        continue;
                    };
                    if checked.iter().any(|(f, _)| f.value == from.value) {
                        errors.at(
                            from.span,
                            "this value is listed twice in `replace`: list each value once",
                        );
                        continue;
                    }
                    for v in [&from, &to] {
                        add(
                            &mut checks,
                            "assert_replace",
                            &col.ty,
                            Some(literal_type(&v.value)),
                            v.span,
                        );
                    }
                    checked.push((from, to));
                }
                steps.push(Step::Replace {
                    column: col.name,
                    pairs: checked,
                });
            }
            RawStep::Pivot {
                keyword,
                on,
                value,
                keys,
                timestamp,
                columns,
                forward_fill,
            } => {
                let missing = |errors: &mut Errors, what: &str| {
                    errors.at(
                        keyword.span(),
                        format!("`pivot` needs {what}, as in {}", step_example(keyword)),
                    );
                };
                if on.is_none() {
                    missing(
                        errors,
                        "`on = column`: the column whose values name the new columns",
                    );
                }
                if value.is_none() {
                    missing(
                        errors,
                        "`value = first(column)`: the values of the new columns",
                    );
                }
                if keys.is_empty() {
                    missing(errors, "`keys(...)`: the key columns rows are grouped by");
                }
                if timestamp.is_none() {
                    missing(errors, "`timestamp = column`: the time rows are grouped by");
                }
                if columns.is_empty() {
                    missing(errors, "`columns(...)`: the new columns, one per value");
                }
                let (Some(on), Some((function, value)), Some(timestamp)) = (on, value, timestamp)
                else {
                    continue;
                };
                let Some(aggregation) = symbol::PIVOT_AGGREGATIONS
                    .iter()
                    .copied()
                    .find(|a| function == a.name())
                else {
                    errors.at(
                        function.span(),
                        format!(
                            "unknown aggregation `{function}` in `pivot`: the aggregations are {}",
                            symbol::list(symbol::PIVOT_AGGREGATIONS.iter().map(|a| a.name()))
                        ),
                    );
                    continue;
                };
                let mut kept = Vec::new();
                for key in keys {
                    kept.extend(rows.find(key, keyword, errors).cloned());
                }
                let ts = rows.find(timestamp, keyword, errors).cloned();
                let on_col = rows.find(on, keyword, errors).cloned();
                let value_col = rows.find(value, keyword, errors).cloned();
                let (Some(ts), Some(on_col), Some(value_col)) = (ts, on_col, value_col) else {
                    continue;
                };
                if kept.len() != keys.len() {
                    continue;
                }
                add(
                    &mut checks,
                    "assert_timestamp",
                    &ts.ty,
                    None,
                    timestamp.span(),
                );
                add(
                    &mut checks,
                    "assert_pivot_on",
                    &on_col.ty,
                    Some(syn::parse_quote!(str)),
                    on.span(),
                );
                let assert = assertion(aggregation.accepts());
                add(&mut checks, assert, &value_col.ty, None, value.span());
                kept.push(ts.clone());
                let filled = if *forward_fill {
                    ", forward filled"
                } else {
                    ""
                };
                let describe = |name: &str| {
                    format!(
                        "`{aggregation}` of `{}` over the rows whose `{}` is `\"{name}\"`{filled}.",
                        value_col.name, on_col.name
                    )
                };
                let kept_refs: Vec<&Col> = kept.iter().collect();
                let new = rows.new_columns(columns, &kept_refs, &describe, errors);
                for col in &new {
                    add(
                        &mut checks,
                        "assert_pivot_column",
                        &col.ty,
                        Some(value_col.ty.clone()),
                        col.ty.span(),
                    );
                }
                steps.push(Step::Pivot {
                    keys: kept[..kept.len() - 1]
                        .iter()
                        .map(|c| c.name.clone())
                        .collect(),
                    timestamp: ts.name.clone(),
                    on: on_col.name.clone(),
                    aggregation,
                    value: value_col.name.clone(),
                    columns: new.clone(),
                    forward_fill: *forward_fill,
                });
                kept.extend(new);
                rows.columns = kept;
            }
            RawStep::ExplodeJson {
                keyword,
                column,
                columns,
            } => {
                if columns.is_empty() {
                    errors.at(
                        keyword.span(),
                        format!(
                            "`explode_json` needs `columns(...)`: the fields to extract, as in {}",
                            step_example(keyword)
                        ),
                    );
                }
                let Some(column) = column else { continue };
                let Some(json) = rows.find(column, keyword, errors).cloned() else {
                    continue;
                };
                add(
                    &mut checks,
                    "assert_json_text",
                    &json.ty,
                    None,
                    column.span(),
                );
                let describe =
                    |name: &str| format!("Field `{name}` of the JSON in `{}`.", json.name);
                let existing: Vec<&Col> = rows.columns.iter().collect();
                let new = rows.new_columns(columns, &existing, &describe, errors);
                for col in &new {
                    checks.push(Check {
                        assert: "assert_column",
                        ty: col.ty.clone(),
                        with: None,
                        span: col.ty.span(),
                    });
                }
                steps.push(Step::ExplodeJson {
                    column: json.name.clone(),
                    columns: new.clone(),
                });
                rows.columns.extend(new);
            }
            RawStep::ForwardFill {
                keyword,
                columns,
                keys,
                timestamp,
            } => {
                let Some(timestamp) = timestamp else {
                    errors.at(
                        keyword.span(),
                        format!(
                            "`forward_fill` needs `timestamp = column`: the time that orders \
                             each key's rows, as in {}",
                            step_example(keyword)
                        ),
                    );
                    continue;
                };
                if columns.is_empty() {
                    errors.at(
                        keyword.span(),
                        format!(
                            "`forward_fill` needs `columns(...)`: the columns to fill, as in {}",
                            step_example(keyword)
                        ),
                    );
                }
                let mut filled = Vec::new();
                for ident in columns {
                    if let Some(col) = rows.find(ident, keyword, errors) {
                        filled.push((ident, col.name.clone()));
                    }
                }
                let mut key_names = Vec::new();
                for ident in keys {
                    if let Some(col) = rows.find(ident, keyword, errors) {
                        key_names.push(col.name.clone());
                    }
                }
                let Some(ts) = rows.find(timestamp, keyword, errors).cloned() else {
                    continue;
                };
                add(
                    &mut checks,
                    "assert_timestamp",
                    &ts.ty,
                    None,
                    timestamp.span(),
                );
                for (ident, name) in &filled {
                    if key_names.contains(name) || *name == ts.name {
                        errors.at(
                            ident.span(),
                            format!(
                                "`{name}` orders or groups the rows of `forward_fill`: it cannot \
                                 also be filled"
                            ),
                        );
                    }
                }
                steps.push(Step::ForwardFill {
                    columns: filled.into_iter().map(|(_, name)| name).collect(),
                    keys: key_names,
                    timestamp: ts.name,
                });
            }
        }
    }
    Preprocessing {
        steps,
        columns: rows.columns,
        checks,
    }
}

fn add(checks: &mut Vec<Check>, assert: &'static str, ty: &Type, with: Option<Type>, span: Span) {
    checks.push(Check {
        assert,
        ty: ty.clone(),
        with,
        span,
    });
}

/// The Rust type of a literal's kind, for `PivotOn`-like assertions.
fn literal_type(value: &FillValue) -> Type {
    match value {
        FillValue::Int(_) => syn::parse_quote!(i64),
        FillValue::Float(_) => syn::parse_quote!(f64),
        FillValue::Bool(_) => syn::parse_quote!(bool),
        FillValue::Str(_) => syn::parse_quote!(str),
    }
}

fn value(raw: &RawValue, errors: &mut Errors) -> Option<Value> {
    let sign = if raw.negative { "-" } else { "" };
    let span = raw.lit.span();
    let value = match &raw.lit {
        Lit::Int(int) => match format!("{sign}{}", int.base10_digits()).parse::<i64>() {
            Ok(v) => FillValue::Int(v),
            Err(_) => {
                errors.at(span, "this value of `replace` does not fit in an `i64`");
                return None;
            }
        },
        Lit::Float(float) => match format!("{sign}{}", float.base10_digits()).parse::<f64>() {
            Ok(v) if v.is_finite() => FillValue::Float(v),
            _ => {
                errors.at(span, "this value of `replace` is not a finite `f64`");
                return None;
            }
        },
        Lit::Bool(b) if !raw.negative => FillValue::Bool(b.value),
        Lit::Str(s) if !raw.negative => FillValue::Str(s.value()),
        _ => {
            errors.at(
                span,
                "the values of `replace` are string, integer, float or boolean literals",
            );
            return None;
        }
    };
    Some(Value { value, span })
}
