//! Field attribute `#[column(...)]` of `#[source]`: times written as epoch
//! counts (`epoch = "ms"`) or as text in a format (`format = "%d/%m/%Y"`),
//! from the raw attribute to the validated encoding.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use featurestore_core::EpochUnit;
use syn::{Attribute, LitStr, Meta};

use crate::attr::{key_of, lit_str, parse_metas, Seen};
use crate::ctxt::Errors;
use crate::derived;
use crate::symbol::{self, Symbol};

const COLUMN_KEYS: &[Symbol] = &[symbol::EPOCH, symbol::FORMAT, symbol::H3, symbol::STACK];

/// `#[column(epoch = "ms")]` or `#[column(format = "...")]`, as written.
#[derive(Default)]
pub struct ColumnAttr {
    pub epoch: Option<LitStr>,
    pub format: Option<LitStr>,
    /// `h3(...)` or `stack(...)`.
    pub derived: Option<derived::RawDerived>,
}

/// Whether `attr` is `#[column(...)]`.
pub fn is_column(attr: &Attribute) -> bool {
    attr.path() == symbol::COLUMN
}

/// The `#[column(...)]` attributes of a source field, merged.
pub fn column_attr(attrs: &[Attribute], errors: &mut Errors) -> ColumnAttr {
    let mut out = ColumnAttr::default();
    let mut seen = Seen::default();
    for attr in attrs.iter().filter(|a| is_column(a)) {
        let Meta::List(list) = &attr.meta else {
            errors.spanned(
                attr,
                "expected `#[column(epoch = \"ms\")]` or `#[column(format = \"%d/%m/%Y %H:%M\")]`",
            );
            continue;
        };
        let metas = match parse_metas(list.tokens.clone()) {
            Ok(metas) => metas,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for meta in &metas {
            match key_of(meta, "`#[column]`", COLUMN_KEYS, &mut seen, errors) {
                Some(k) if k == symbol::EPOCH => out.epoch = lit_str(meta, k, errors),
                Some(k) if k == symbol::FORMAT => out.format = lit_str(meta, k, errors),
                Some(k) if k == symbol::H3 || k == symbol::STACK => {
                    let raw = if k == symbol::H3 {
                        derived::h3(meta, errors)
                    } else {
                        derived::stack(meta, errors)
                    };
                    match (&out.derived, raw) {
                        (Some(_), Some(raw)) => errors.at(
                            raw.keyword(),
                            "`h3` and `stack` cannot both be set: a column is computed one way",
                        ),
                        (None, raw) => out.derived = raw,
                        (Some(_), None) => {}
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// How a source column's times are written, validated.
pub enum TimeEncoding {
    /// `epoch = "ms"`.
    Epoch(EpochUnit),
    /// `format = "..."`, a valid chrono format naming at least a date.
    Format(String),
}

impl TimeEncoding {
    /// In words, for docs.
    pub fn describe(&self) -> String {
        match self {
            TimeEncoding::Epoch(unit) => format!(
                "{} since 1970-01-01 00:00:00 UTC, read as a UTC timestamp",
                unit.word()
            ),
            TimeEncoding::Format(mask) => {
                format!("text in the format `{mask}`, read as a UTC timestamp")
            }
        }
    }
}

/// The validated encoding of a `#[column(...)]`, if it declares one.
pub fn time_encoding(attr: &ColumnAttr, errors: &mut Errors) -> Option<TimeEncoding> {
    if let (Some(_), Some(time)) = (&attr.derived, attr.epoch.as_ref().or(attr.format.as_ref())) {
        errors.at(
            time.span(),
            "a computed column (`h3`, `stack`) is not read, so it has no `epoch` or `format`",
        );
        return None;
    }
    match (&attr.epoch, &attr.format) {
        (Some(_), Some(format)) => {
            errors.at(
                format.span(),
                "`epoch` and `format` cannot both be set: a column holds either integer \
                 counts (`epoch`) or text (`format`)",
            );
            None
        }
        (Some(epoch), None) => {
            let unit = epoch.value();
            let Some(unit) = EpochUnit::from_name(&unit) else {
                let words: Vec<&str> = EpochUnit::ALL.iter().map(|u| u.word()).collect();
                errors.at(
                    epoch.span(),
                    format!(
                        "unknown epoch unit `{unit}`: the units are {} ({})",
                        symbol::list(EpochUnit::ALL.map(EpochUnit::name)),
                        words.join(", ")
                    ),
                );
                return None;
            };
            Some(TimeEncoding::Epoch(unit))
        }
        (None, Some(format)) => {
            let mask = format.value();
            match check_mask(&mask) {
                Ok(()) => Some(TimeEncoding::Format(mask)),
                Err(why) => {
                    errors.at(format.span(), why);
                    None
                }
            }
        }
        (None, None) => None,
    }
}

/// The encoding a field with errors in its `#[column(...)]` is taken to
/// have, so feature sets reading it as a time do not fail too.
pub fn fallback_encoding(attrs: &[Attribute]) -> Option<TimeEncoding> {
    let attr = column_attr(attrs, &mut Errors::new());
    match (&attr.epoch, &attr.format) {
        (Some(_), _) => Some(TimeEncoding::Epoch(EpochUnit::Millis)),
        (None, Some(_)) => Some(TimeEncoding::Format(String::new())),
        (None, None) => None,
    }
}

/// A mask is valid when chrono reads every item of it, and names a date:
/// a sample time written with it must parse back as a date or a time.
fn check_mask(mask: &str) -> Result<(), String> {
    if mask.trim().is_empty() {
        return Err("`format` is empty: give a chrono format, e.g. `\"%d/%m/%Y %H:%M\"`".into());
    }
    if StrftimeItems::new(mask).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "invalid time format `{mask}`: chrono cannot read it; use `strftime` \
             specifiers such as `%Y`, `%m`, `%d`, `%H`, `%M`, `%S`, `%.f` (`%%` for `%`)"
        ));
    }
    let sample = chrono::NaiveDate::from_ymd_opt(2021, 11, 23)
        .and_then(|d| d.and_hms_micro_opt(13, 45, 30, 123_456));
    let mut written = String::new();
    let round_trips = sample.is_some_and(|sample| {
        write!(written, "{}", sample.format(mask)).is_ok()
            && (chrono::NaiveDateTime::parse_from_str(&written, mask).is_ok()
                || chrono::NaiveDate::parse_from_str(&written, mask).is_ok())
    });
    if round_trips {
        Ok(())
    } else {
        Err(format!(
            "the time format `{mask}` does not name a whole date: it needs a year, month \
             and day (e.g. `%Y`, `%m`, `%d`), or a timestamp such as `%s`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_mask;

    #[test]
    fn masks() {
        assert!(check_mask("%d/%m/%Y %H:%M").is_ok());
        assert!(check_mask("%Y-%m-%d").is_ok());
        assert!(check_mask("%Y%m%dT%H%M%S%.f").is_ok());
        assert!(check_mask("%d/%m/%Y %Q").is_err());
        assert!(check_mask("%H:%M").is_err());
        assert!(check_mask("  ").is_err());
    }
}
