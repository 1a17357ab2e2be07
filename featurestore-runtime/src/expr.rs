//! Polars expressions from declarations: a declared `query`/`filter` and a
//! fill literal, shared by feature sets and datasets.

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::error::polars_message;
use crate::spec::FillValue;

/// Applies a declared `query` (over the source, registered as `table`) and
/// `filter`; the error is a message for the caller to attribute.
pub(crate) fn apply_sql(
    events: LazyFrame,
    table: &str,
    query: Option<&str>,
    filter: Option<&str>,
) -> std::result::Result<LazyFrame, String> {
    let mut lf = events;
    if let Some(query) = query {
        let mut ctx = SQLContext::new();
        ctx.register(table, lf);
        lf = ctx
            .execute(query)
            .map_err(|e| format!("`query` failed: {}", polars_message(&e)))?;
    }
    if let Some(filter) = filter {
        let expr = polars::sql::sql_expr(filter)
            .map_err(|e| format!("`filter` is not a valid expression: {}", polars_message(&e)))?;
        lf = lf.filter(expr);
    }
    Ok(lf)
}

/// The literal a declared `fill_null` value stands for.
pub(crate) fn fill_literal(fill: FillValue) -> Expr {
    match fill {
        FillValue::Int(i) => lit(i),
        FillValue::Float(f) => lit(f),
        FillValue::Bool(b) => lit(b),
        FillValue::Str(s) => lit(s),
    }
}
