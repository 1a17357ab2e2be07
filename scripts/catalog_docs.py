#!/usr/bin/env python3
"""Checks the catalog that `cargo doc -p features --no-deps` wrote.

- The `catalog` module's page lists the crate's sources, feature sets and
  datasets under a heading per kind, each linked, and each kind's module
  lists its declarations with the first line of their docs.
- The crate's own page lists the declarations and the catalog, not the
  generated row structs.
- A feature set's page names none of the runtime's marker traits (their
  impls are hidden), describes its key by a link to the source's field, and
  still has its output columns table.

Usage: scripts/catalog_docs.py [DOC_DIR]  (default: $CARGO_TARGET_DIR/doc)
"""

import html
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SOURCES = ["OrderEvents"]
FEATURE_SETS = ["UserOrders", "UserChargebacks"]
DATASETS = ["AwesomeDataset"]
ROWS = ["UserOrdersRow", "UserOrdersFeatures", "UserChargebacksRow", "AwesomeDatasetRow"]
# Traits of the runtime that generated code implements or bounds on: none
# belongs on a declaration's page.
HIDDEN_TRAITS = ["SetOf", "ValueOf", "HasColumn", "KeyAt", "ColumnOf", "ColumnType",
                 "FeatureType", "PrefixMarker", "SameType"]

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def text(page):
    """The page's visible text, one line per block element."""
    s = page.read_text()
    s = re.sub(r"<(script|style)\b.*?</\1>", "", s, flags=re.S)
    s = re.sub(r"<(h[1-6]|p|li|tr|summary|dt|dd|div)\b[^>]*>", "\n", s)
    s = html.unescape(re.sub(r"<[^>]+>", " ", s))
    return re.sub(r"[ \t]+", " ", s)


def section(page, heading, next_heading=None):
    """The HTML from a heading of the docs (found by its anchor, as rustdoc
    shifts heading levels) to the next one given."""
    s = page.read_text()

    def anchor(h):
        return f'id="{h.lower().replace(" ", "-")}"'

    start = s.find(anchor(heading))
    end = s.find(anchor(next_heading), start) if next_heading else len(s)
    return s[start:end] if start >= 0 and end >= 0 else ""


def main():
    default = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "doc"
    doc = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    crate = doc / "features"
    catalog = crate / "catalog"
    if not (catalog / "index.html").is_file():
        sys.exit(f"no catalog page at {catalog / 'index.html'}: run `cargo doc -p features --no-deps`")

    groups = [("Sources", "sources", SOURCES), ("Feature sets", "feature_sets", FEATURE_SETS),
              ("Datasets", "datasets", DATASETS)]
    for i, (heading, module, names) in enumerate(groups):
        following = groups[i + 1][0] if i + 1 < len(groups) else None
        listed = section(catalog / "index.html", heading, following)
        check(listed, f"the catalog page has no heading {heading!r}")
        for name in names:
            # rustdoc links a re-export to the declaration's own page.
            check(f'href="../struct.{name}.html"' in listed,
                  f"the catalog page does not link {name} under {heading!r}")
        page = catalog / module / "index.html"
        check(page.is_file(), f"no page for catalog::{module}")
        if page.is_file():
            body = page.read_text()
            for name in names:
                check(f'href="struct.{name}.html"' in body, f"catalog::{module} does not list {name}")
            others = [n for _, m, ns in groups if m != module for n in ns]
            for name in others:
                check(f'struct.{name}.html' not in body, f"catalog::{module} lists {name}")

    root = text(crate / "index.html")
    check(re.search(r"\bcatalog\b", root), "the crate's page does not list the catalog module")
    for name in SOURCES + FEATURE_SETS + DATASETS:
        check((crate / f"struct.{name}.html").is_file(), f"no page for {name}")
    for row in ROWS:
        check(not (crate / f"struct.{row}.html").exists(), f"{row} has a page of its own")
        check(row not in root.split(), f"the crate's page lists {row}")

    page = crate / "struct.UserOrders.html"
    body = text(page)
    for trait in HIDDEN_TRAITS:
        check(not re.search(rf"\b{trait}\b", body), f"UserOrders' page names the trait {trait}")
    check("Output columns" in body and "cpf_orders__count_over_3_days_rolling_windows" in body,
          "UserOrders' page lost its output columns table")
    check('href="struct.OrderEvents.html#structfield.cpf"' in page.read_text(),
          "UserOrders' page does not link its key to the source's field")

    if failures:
        print("the catalog in the docs is not as expected:", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: the catalog lists {len(SOURCES + FEATURE_SETS + DATASETS)} declarations by kind; "
          f"no row struct or marker trait on the declarations' pages")


if __name__ == "__main__":
    main()
