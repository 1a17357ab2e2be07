//! The proc macros' compile-time errors, checked with trybuild: the cases are
//! in `ui/`, the runner in `tests/ui.rs`. Nothing to import here.
