//! The vocabulary of featurestore, defined once for the macros that check a
//! declaration and the runtime that runs it: column types, aggregation
//! functions, windows and their mini-language, output column names, file
//! formats and row policies.
//!
//! Everything here is plain data and pure functions, with no dependency:
//! the macros attach spans to the messages, the runtime builds its
//! `'static` specs from these types in `const` context (they are `Copy`,
//! with public fields), and neither holds a copy of the rules. Backend
//! dialects (CQL, polars types) are not vocabulary: they live with their
//! backend in the runtime.

pub mod aggregation;
pub mod data_type;
pub mod format;
pub mod naming;
pub mod policy;
pub mod suggest;
pub mod window;

pub use aggregation::{is_plain, is_row_level, Accepts, Aggregation, NumberKind, Percentage};
pub use data_type::DataType;
pub use format::{Compression, EpochUnit, Format};
pub use naming::{frame_output_name, output_name, snake_case, TIMESTAMP_COLUMN};
pub use policy::{Keep, OnBadRows};
pub use window::{Frame, Window, WindowUnit};
