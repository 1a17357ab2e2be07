//! A feature's functions: `count(order_id)`, `percentile(amount, 0.5)`,
//! checked against the catalog of featurestore-core.

use featurestore_core::{Accepts, Aggregation, Percentage};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Ident, Lit};

use crate::attr::{self, RawFunction};
use crate::ctxt::Errors;
use crate::symbol;

/// `count(order_id)`.
pub struct Function {
    pub aggregation: Aggregation,
    /// The function name, e.g. `count`.
    pub span: Span,
    /// The source column.
    pub column: Ident,
    /// The ordering column of `max_by` and `min_by`.
    pub by: Option<Ident>,
    /// `count_if("amount > 100")`: the SQL condition counted instead of a
    /// boolean column; `column` then names no column.
    pub condition: Option<syn::LitStr>,
}

impl Function {
    /// The column's name, or the text of the SQL condition of `count_if`.
    pub fn column_name(&self) -> String {
        match &self.condition {
            Some(condition) => condition.value(),
            None => self.column.unraw().to_string(),
        }
    }
}

/// The `__private` function asserting that a column's type is one the
/// function accepts.
pub fn assertion(accepts: Accepts) -> &'static str {
    match accepts {
        Accepts::Countable => "assert_countable",
        Accepts::Numeric => "assert_numeric",
        Accepts::Ordered => "assert_ordered",
        Accepts::Boolean => "assert_boolean",
    }
}

pub fn functions(raw: &[RawFunction], errors: &mut Errors) -> Vec<Function> {
    raw.iter()
        .filter_map(|f| {
            let name = f.name.to_string();
            let Some(aggregation) = Aggregation::from_name(&name) else {
                let hint = attr::did_you_mean(&name, &Aggregation::NAMES)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                errors.at(
                    f.name.span(),
                    format!(
                        "unknown aggregation `{}`: {hint}the aggregations are {}",
                        f.name,
                        symbol::list(Aggregation::NAMES)
                    ),
                );
                return None;
            };
            if let Some(condition) = &f.condition {
                if aggregation != Aggregation::CountIf {
                    errors.at(
                        condition.span(),
                        format!(
                            "`{name}` takes a column name of the source first, e.g. \
                             `{name}(order_id)`; only `count_if` takes a SQL condition, \
                             e.g. `count_if(\"amount > 100\")`"
                        ),
                    );
                    return None;
                }
                super::declaration::sql_syntax(
                    condition,
                    symbol::Symbol("count_if"),
                    crate::sql::check_expr,
                    errors,
                );
            }
            let aggregation = arguments(aggregation, f, errors)?;
            let by = match aggregation {
                Aggregation::MaxBy(_) | Aggregation::MinBy(_) => ordering_column(f),
                _ => None,
            };
            Some(Function {
                aggregation,
                span: f.name.span(),
                column: f.column.clone(),
                by,
                condition: f.condition.clone(),
            })
        })
        .collect()
}

/// Checks the arguments after the column: the percentage of `percentile`
/// and `percentile_approx` (whose optional accuracy follows it), the
/// optional error bound of `approx_count_distinct`, the optional
/// `ignore_nulls = true` of `first` and `last`, none for the rest.
fn arguments(
    aggregation: Aggregation,
    f: &RawFunction,
    errors: &mut Errors,
) -> Option<Aggregation> {
    let name = &f.name;
    let column = &f.column;
    let mut args = f.args.iter();
    let first = args.next();
    let unexpected = match aggregation {
        // The percentage, then Spark's accuracy, which an exact value meets.
        Aggregation::PercentileApprox(_) | Aggregation::ApproxPercentile(_) => {
            let accuracy = args.next();
            if let Some(a) = accuracy {
                let valid = matches!(a, syn::Expr::Lit(syn::ExprLit { lit: Lit::Int(n), .. })
                    if n.base10_parse::<u32>().is_ok_and(|n| n > 0));
                if !valid {
                    errors.spanned(
                        a,
                        format!(
                            "the accuracy of `{name}` is a positive integer, e.g. `10000` (the \
                             percentile is exact: its error is 0, within any accuracy)"
                        ),
                    );
                    return None;
                }
            }
            args.next()
        }
        Aggregation::Percentile(_)
        | Aggregation::ApproxCountDistinct
        | Aggregation::First
        | Aggregation::Last
        | Aggregation::Lag(_)
        | Aggregation::Lead(_)
        | Aggregation::MaxBy(_)
        | Aggregation::MinBy(_) => args.next(),
        _ => first,
    };
    if let Some(extra) = unexpected {
        let message = match extra {
            _ if aggregation.ordering().is_some() => format!(
                "`{name}` takes a column and the column that orders the events: \
                 `{name}({column}, ordering_column)`"
            ),
            syn::Expr::Path(p) if p.path.get_ident().is_some() => format!(
                "`{name}` takes one column: to aggregate `{}` too, declare it on another field",
                p.path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            _ => match aggregation {
                Aggregation::Percentile(_) => format!(
                    "`percentile` takes a column and a percentage: `percentile({column}, 0.5)`"
                ),
                Aggregation::PercentileApprox(_) | Aggregation::ApproxPercentile(_) => format!(
                    "`{name}` takes a column, a percentage and an optional accuracy: \
                     `{name}({column}, 0.5, 10000)`"
                ),
                Aggregation::ApproxCountDistinct => format!(
                    "`approx_count_distinct` takes a column and an optional relative error: \
                     `approx_count_distinct({column}, 0.05)`"
                ),
                Aggregation::Lag(_) | Aggregation::Lead(_) => format!(
                    "`{name}` takes a column and an optional number of events: `{name}({column}, 1)`"
                ),
                Aggregation::First | Aggregation::Last => format!(
                    "`{name}` takes a column and an optional `ignore_nulls = true`: \
                     `{name}({column}, ignore_nulls = true)`"
                ),
                _ => format!("`{name}` takes only a column: `{name}({column})`"),
            },
        };
        errors.spanned(extra, message);
        return None;
    }
    match aggregation {
        Aggregation::Percentile(_)
        | Aggregation::PercentileApprox(_)
        | Aggregation::ApproxPercentile(_) => {
            let Some(p) = first else {
                errors.at(
                    name.span(),
                    format!(
                        "`{name}` needs a percentage after the column, from 0 to 1: \
                         `{name}({column}, 0.5)`"
                    ),
                );
                return None;
            };
            let millionths = fraction(p).filter(|m| *m <= 1_000_000);
            match millionths {
                Some(millionths) => {
                    let p = Percentage { millionths };
                    Some(match aggregation {
                        Aggregation::PercentileApprox(_) => Aggregation::PercentileApprox(p),
                        Aggregation::ApproxPercentile(_) => Aggregation::ApproxPercentile(p),
                        _ => Aggregation::Percentile(p),
                    })
                }
                None => {
                    errors.spanned(
                        p,
                        format!(
                            "the percentage of `{name}` is a number from 0 to 1 with at most \
                             6 decimals, e.g. `0.5` or `0.999`"
                        ),
                    );
                    None
                }
            }
        }
        Aggregation::ApproxCountDistinct => {
            if let Some(rsd) = first {
                if !fraction(rsd).is_some_and(|m| m > 0 && m < 1_000_000) {
                    errors.spanned(
                        rsd,
                        "the relative error of `approx_count_distinct` is a number between 0 \
                         and 1 with at most 6 decimals, e.g. `0.05` (the count is exact: \
                         its error is 0, within any bound)",
                    );
                    return None;
                }
            }
            Some(aggregation)
        }
        Aggregation::First | Aggregation::Last => {
            let Some(arg) = first else {
                return Some(aggregation);
            };
            let ignore_nulls = match arg {
                syn::Expr::Assign(assign) => match (&*assign.left, &*assign.right) {
                    (
                        syn::Expr::Path(key),
                        syn::Expr::Lit(syn::ExprLit {
                            lit: Lit::Bool(b), ..
                        }),
                    ) if key.path == symbol::IGNORE_NULLS => Some(b.value),
                    _ => None,
                },
                _ => None,
            };
            match (ignore_nulls, aggregation) {
                (Some(false), a) => Some(a),
                (Some(true), Aggregation::First) => Some(Aggregation::FirstIgnoreNulls),
                (Some(true), _) => Some(Aggregation::LastIgnoreNulls),
                (None, _) => {
                    errors.spanned(
                        arg,
                        format!(
                            "`{name}` takes `ignore_nulls = true` or `ignore_nulls = false` \
                             after the column: `{name}({column}, ignore_nulls = true)` skips \
                             the events whose value is null"
                        ),
                    );
                    None
                }
            }
        }
        Aggregation::Lag(_) | Aggregation::Lead(_) => {
            let n = match first {
                None => 1,
                Some(syn::Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(n), ..
                })) => match n.base10_parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        errors.spanned(n, format!("`{name}` moves by at least 1 event"));
                        return None;
                    }
                },
                Some(other) => {
                    errors.spanned(
                        other,
                        format!("`{name}` takes a number of events after the column: `{name}({column}, 1)`"),
                    );
                    return None;
                }
            };
            Some(
                if aggregation.is_shift() && matches!(aggregation, Aggregation::Lag(_)) {
                    Aggregation::Lag(n)
                } else {
                    Aggregation::Lead(n)
                },
            )
        }
        Aggregation::MaxBy(_) | Aggregation::MinBy(_) => {
            let Some(by) = first.and(ordering_column(f)) else {
                let message = format!(
                    "`{name}` takes the column that orders the events after its column: \
                     `{name}({column}, ordering_column)`, the value of `{column}` at the event \
                     with the {} ordering",
                    if matches!(aggregation, Aggregation::MaxBy(_)) {
                        "largest"
                    } else {
                        "smallest"
                    }
                );
                match first {
                    Some(arg) => errors.spanned(arg, message),
                    None => errors.at(name.span(), message),
                }
                return None;
            };
            // The name lives as long as the expansion, which is all a
            // proc macro's `'static` needs.
            let by: &'static str = Box::leak(by.unraw().to_string().into_boxed_str());
            Some(match aggregation {
                Aggregation::MaxBy(_) => Aggregation::MaxBy(by),
                _ => Aggregation::MinBy(by),
            })
        }
        other => Some(other),
    }
}

/// The ordering column of `max_by(x, ord)`: the argument after the column,
/// when it is a plain identifier.
fn ordering_column(f: &RawFunction) -> Option<Ident> {
    match f.args.first() {
        Some(syn::Expr::Path(p)) if p.qself.is_none() => p.path.get_ident().cloned(),
        _ => None,
    }
}

/// A non-negative decimal literal (`0.5`, `1`), in millionths, if it has at
/// most 6 decimals.
fn fraction(expr: &syn::Expr) -> Option<u32> {
    let syn::Expr::Lit(syn::ExprLit { lit, .. }) = expr else {
        return None;
    };
    let digits = match lit {
        Lit::Float(f) if f.suffix().is_empty() => f.base10_digits().to_string(),
        Lit::Int(i) if i.suffix().is_empty() => i.base10_digits().to_string(),
        _ => return None,
    };
    if digits.contains(['e', 'E']) {
        return None;
    }
    let (whole, decimals) = digits.split_once('.').unwrap_or((&digits, ""));
    if decimals.len() > 6 {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let decimals: u64 = if decimals.is_empty() {
        0
    } else {
        format!("{decimals:0<6}").parse().ok()?
    };
    u32::try_from(whole.checked_mul(1_000_000)?.checked_add(decimals)?).ok()
}
