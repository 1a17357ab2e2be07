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
use crate::attr::{
    step_example, RawExplodeJson, RawForwardFill, RawPivot, RawReplace, RawStep, RawValue,
};
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

/// Checks the steps in order over `fields`, the columns as read.
pub fn check(raw: &[RawStep], fields: Vec<Col>, errors: &mut Errors) -> Preprocessing {
    let mut pre = Preprocessing {
        steps: Vec::new(),
        columns: fields,
        checks: Vec::new(),
    };
    for step in raw {
        match step {
            RawStep::Filter(lit) => {
                if let Err(message) = sql::check_expr(&lit.value()) {
                    errors.at(lit.span(), format!("invalid SQL in `filter`: {message}"));
                }
                pre.steps.push(Step::Filter { sql: lit.value() });
            }
            RawStep::Replace(step) => pre.replace(step, errors),
            RawStep::Pivot(step) => pre.pivot(step, errors),
            RawStep::ExplodeJson(step) => pre.explode_json(step, errors),
            RawStep::ForwardFill(step) => pre.forward_fill(step, errors),
        }
    }
    pre
}

/// While the steps are checked, `columns` are those the next step receives.
impl Preprocessing {
    /// The column `ident` names, or an error under it listing the columns.
    fn find(&self, ident: &Ident, step: &Ident, errors: &mut Errors) -> Option<Col> {
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
        found.cloned()
    }

    /// The columns a step declares, none of which exists in `keep` or is
    /// declared twice.
    fn new_columns(
        declared: &[(Ident, Type)],
        keep: &[Col],
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

    /// Asks rustc to check `assert::<ty>()` (or `assert::<ty, with>()`) at `span`.
    fn assert(&mut self, assert: &'static str, ty: &Type, with: Option<Type>, span: Span) {
        self.checks.push(Check {
            assert,
            ty: ty.clone(),
            with,
            span,
        });
    }

    fn replace(&mut self, step: &RawReplace, errors: &mut Errors) {
        let RawReplace {
            keyword,
            column,
            pairs,
        } = step;
        let Some(col) = self.find(column, keyword, errors) else {
            return;
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
                self.assert(
                    "assert_replace",
                    &col.ty,
                    Some(literal_type(&v.value)),
                    v.span,
                );
            }
            checked.push((from, to));
        }
        self.steps.push(Step::Replace {
            column: col.name,
            pairs: checked,
        });
    }

    fn pivot(&mut self, step: &RawPivot, errors: &mut Errors) {
        let RawPivot {
            keyword,
            on,
            value,
            keys,
            timestamp,
            columns,
            forward_fill,
        } = step;
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
        let (Some(on), Some((function, value)), Some(timestamp)) = (on, value, timestamp) else {
            return;
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
            return;
        };
        let mut kept = Vec::new();
        for key in keys {
            kept.extend(self.find(key, keyword, errors));
        }
        let ts = self.find(timestamp, keyword, errors);
        let on_col = self.find(on, keyword, errors);
        let value_col = self.find(value, keyword, errors);
        let (Some(ts), Some(on_col), Some(value_col)) = (ts, on_col, value_col) else {
            return;
        };
        if kept.len() != keys.len() {
            return;
        }
        self.assert("assert_timestamp", &ts.ty, None, timestamp.span());
        self.assert(
            "assert_pivot_on",
            &on_col.ty,
            Some(syn::parse_quote!(str)),
            on.span(),
        );
        let assert = assertion(aggregation.accepts());
        self.assert(assert, &value_col.ty, None, value.span());
        let key_names = kept.iter().map(|c| c.name.clone()).collect();
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
        let new = Self::new_columns(columns, &kept, &describe, errors);
        for col in &new {
            self.assert(
                "assert_pivot_column",
                &col.ty,
                Some(value_col.ty.clone()),
                col.ty.span(),
            );
        }
        self.steps.push(Step::Pivot {
            keys: key_names,
            timestamp: ts.name.clone(),
            on: on_col.name.clone(),
            aggregation,
            value: value_col.name.clone(),
            columns: new.clone(),
            forward_fill: *forward_fill,
        });
        kept.extend(new);
        self.columns = kept;
    }

    fn explode_json(&mut self, step: &RawExplodeJson, errors: &mut Errors) {
        let RawExplodeJson {
            keyword,
            column,
            columns,
        } = step;
        if columns.is_empty() {
            errors.at(
                keyword.span(),
                format!(
                    "`explode_json` needs `columns(...)`: the fields to extract, as in {}",
                    step_example(keyword)
                ),
            );
        }
        let Some(column) = column else {
            return;
        };
        let Some(json) = self.find(column, keyword, errors) else {
            return;
        };
        self.assert("assert_json_text", &json.ty, None, column.span());
        let describe = |name: &str| format!("Field `{name}` of the JSON in `{}`.", json.name);
        let new = Self::new_columns(columns, &self.columns, &describe, errors);
        for col in &new {
            self.assert("assert_column", &col.ty, None, col.ty.span());
        }
        self.steps.push(Step::ExplodeJson {
            column: json.name.clone(),
            columns: new.clone(),
        });
        self.columns.extend(new);
    }

    fn forward_fill(&mut self, step: &RawForwardFill, errors: &mut Errors) {
        let RawForwardFill {
            keyword,
            columns,
            keys,
            timestamp,
        } = step;
        let Some(timestamp) = timestamp else {
            errors.at(
                keyword.span(),
                format!(
                    "`forward_fill` needs `timestamp = column`: the time that orders \
                     each key's rows, as in {}",
                    step_example(keyword)
                ),
            );
            return;
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
            if let Some(col) = self.find(ident, keyword, errors) {
                filled.push((ident, col.name));
            }
        }
        let mut key_names = Vec::new();
        for ident in keys {
            if let Some(col) = self.find(ident, keyword, errors) {
                key_names.push(col.name);
            }
        }
        let Some(ts) = self.find(timestamp, keyword, errors) else {
            return;
        };
        self.assert("assert_timestamp", &ts.ty, None, timestamp.span());
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
        self.steps.push(Step::ForwardFill {
            columns: filled.into_iter().map(|(_, name)| name).collect(),
            keys: key_names,
            timestamp: ts.name,
        });
    }
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
