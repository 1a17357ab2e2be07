//! The catalog of `catalog!`: the declarations of a crate, by kind.

use syn::Path;

use crate::attr::{path_string, CatalogAttr};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

/// The groups listed, in the catalog's order (sources, feature sets,
/// datasets), whatever the order written.
pub struct Catalog {
    pub groups: Vec<Group>,
}

pub struct Group {
    pub kind: Kind,
    pub items: Vec<Path>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Sources,
    FeatureSets,
    Datasets,
}

impl Kind {
    fn of(key: Symbol) -> Kind {
        if key == symbol::SOURCES {
            Kind::Sources
        } else if key == symbol::FEATURE_SETS {
            Kind::FeatureSets
        } else {
            Kind::Datasets
        }
    }

    /// The keyword, also the name of the group's module.
    pub fn symbol(self) -> Symbol {
        match self {
            Kind::Sources => symbol::SOURCES,
            Kind::FeatureSets => symbol::FEATURE_SETS,
            Kind::Datasets => symbol::DATASETS,
        }
    }
}

pub fn catalog(attr: &CatalogAttr, errors: &mut Errors) -> Option<Catalog> {
    let mut groups = Vec::new();
    let mut listed: Vec<String> = Vec::new();
    for (key, keyword, paths) in &attr.groups {
        if paths.is_empty() {
            errors.spanned(
                keyword,
                format!(
                    "`{key}` is empty: list the crate's {}, or remove it",
                    words(*key)
                ),
            );
            continue;
        }
        let mut items = Vec::new();
        for path in paths {
            let written = path_string(path);
            if listed.contains(&written) {
                errors.spanned(path, format!("`{written}` is listed twice: list it once"));
                continue;
            }
            listed.push(written);
            items.push(path.clone());
        }
        groups.push(Group {
            kind: Kind::of(*key),
            items,
        });
    }
    if attr.groups.is_empty() {
        errors.at(
            proc_macro2::Span::call_site(),
            format!(
                "`catalog!` lists nothing: write {}, e.g. `catalog! {{ sources(OrderEvents), \
                 feature_sets(UserOrders) }}`",
                symbol::list(symbol::CATALOG_KEYS)
            ),
        );
    }
    groups.sort_by_key(|g| g.kind);
    Some(Catalog { groups })
}

fn words(key: Symbol) -> &'static str {
    match Kind::of(key) {
        Kind::Sources => "`#[source]` structs",
        Kind::FeatureSets => "`#[feature_set]` structs",
        Kind::Datasets => "`#[dataset]` structs",
    }
}
