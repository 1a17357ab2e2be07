//! The layout of rows in Redis: key names, hash fields, values, and the
//! script that keeps the order of runs.
//!
//! - `{prefix}{feature_set}`: a string, the declaration the rows were
//!   written with (the column names as a JSON array).
//! - `{prefix}{feature_set}:{part}:{part}…`: one hash per key, one `part` per
//!   key value, percent-encoded (below), with the fields
//!   - `__as_of`, `__run`: the [`WriteOrder`](super::super::WriteOrder) of
//!     the run that wrote the row, microseconds since the epoch, in decimal
//!     (the script compares them; a row without them, written before orders
//!     were kept, is the oldest);
//!   - `__ts`: the row's time, microseconds since the epoch, in decimal;
//!   - `__key`: the key values, postcard-encoded, so a scan gives back the
//!     exact typed key (the key name is for addressing and for people);
//!   - one field per output column, named after it, its [`Value`]
//!     postcard-encoded.
//!
//! Values are one postcard field per column rather than one blob per row:
//! `HGET`/`HKEYS` in `redis-cli` show which columns a row has, a single
//! feature can be read alone, and postcard keeps every variant exact (floats
//! by their bits, NaN included; `i64` whole, which Lua numbers would not).
//!
//! A key part is the value's text with every byte outside
//! `[A-Za-z0-9-_.~@/+=,]` written `%XX`: `:` and `%` are always escaped, so
//! parts never run into each other (`("a:b","c")` is `a%3Ab:c`, `("a","b:c")`
//! is `a:b%3Ac`), and neither do the glob characters `SCAN MATCH` reads nor
//! the braces Redis Cluster hashes on. Null is `%N`, which no escaped text
//! produces; a list is `%L` and its postcard bytes escaped.

use super::super::Value;

/// The hash field of the row's time.
pub(super) const TS_FIELD: &str = "__ts";
/// The hash field of the row's key values.
pub(super) const KEY_FIELD: &str = "__key";

/// The order of runs, in the server: writes (or, given no fields, deletes)
/// the row of `KEYS[1]` iff the order `(ARGV[1], ARGV[2])` (as-of, run
/// start) is equal to or later than the stored row's `(__as_of, __run)`, or
/// the row has no order; returns 1 if it did, 0 if it kept the stored row.
/// `ARGV[3]` is when the written row expires (the feature set's `ttl` after
/// the row's time, milliseconds since the epoch; `0`: never), so a kept row
/// keeps its own expiry and a written one gets its own; `ARGV[4..]` are
/// field/value pairs. Orders are compared as decimal text
/// (sign, then length, then digits) because Lua numbers are doubles and would
/// round microseconds of large `i64`s.
pub(super) const IN_ORDER: &str = r"
local function cmp(a, b)
  local na = string.sub(a, 1, 1) == '-'
  local nb = string.sub(b, 1, 1) == '-'
  if na ~= nb then
    if na then return -1 end
    return 1
  end
  if a == b then return 0 end
  local r
  if #a ~= #b then
    r = (#a > #b) and 1 or -1
  else
    r = (a > b) and 1 or -1
  end
  if na then return -r end
  return r
end
local stored = redis.call('HMGET', KEYS[1], '__as_of', '__run')
if stored[1] and stored[2] then
  local c = cmp(ARGV[1], stored[1])
  if c == 0 then c = cmp(ARGV[2], stored[2]) end
  if c < 0 then return 0 end
end
if #ARGV == 3 then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], '__as_of', ARGV[1], '__run', ARGV[2], unpack(ARGV, 4))
if ARGV[3] == '0' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return 1
";

/// The name of the declaration key of `feature_set`.
pub(super) fn schema_key(prefix: &str, feature_set: &str) -> String {
    format!("{prefix}{feature_set}")
}

/// The `SCAN MATCH` pattern of every row of `feature_set`.
pub(super) fn row_pattern(prefix: &str, feature_set: &str) -> String {
    let mut out = String::new();
    for c in schema_key(prefix, feature_set).chars() {
        // The prefix is the user's: its glob characters are meant literally.
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str(":*");
    out
}

/// The name of the hash of the row of `key`.
pub(super) fn row_key(prefix: &str, feature_set: &str, key: &[Value]) -> String {
    let mut out = schema_key(prefix, feature_set);
    for value in key {
        out.push(':');
        push_part(&mut out, value);
    }
    if key.is_empty() {
        out.push(':');
    }
    out
}

fn push_part(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("%N"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Timestamp(i) => out.push_str(&i.to_string()),
        Value::Date(d) => out.push_str(&d.to_string()),
        // Shortest text that reads back to the same bits; `-0` and `0`
        // differ. NaNs of different payloads share `NaN`: keys are never NaN
        // in practice (a NaN key cannot be looked up by equality anyway).
        Value::Float(x) => escape(out, x.to_string().as_bytes()),
        Value::Str(s) => escape(out, s.as_bytes()),
        Value::List(_) => {
            out.push_str("%L");
            // Encoding a `Value` into memory cannot fail.
            let bytes = postcard::to_stdvec(value).unwrap_or_default();
            escape(out, &bytes);
        }
    }
}

fn escape(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~@/+=,".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_never_collide() {
        let k = |parts: &[&str]| {
            row_key(
                "fs:",
                "t",
                &parts.iter().map(|p| Value::from(*p)).collect::<Vec<_>>(),
            )
        };
        assert_eq!(k(&["a:b", "c"]), "fs:t:a%3Ab:c");
        assert_eq!(k(&["a", "b:c"]), "fs:t:a:b%3Ac");
        assert_ne!(k(&["a%3Ab", "c"]), k(&["a:b", "c"]));
        assert_eq!(k(&["x"]), "fs:t:x");
        assert_eq!(k(&["*{}"]), "fs:t:%2A%7B%7D");
        assert_ne!(
            row_key("fs:", "t", &[Value::Null]),
            row_key("fs:", "t", &[Value::from("%N")])
        );
        assert_eq!(
            row_key("fs:", "t", &[Value::Int(-3), Value::Float(-0.0)]),
            "fs:t:-3:-0"
        );
        assert_ne!(
            row_key("fs:", "t", &[Value::Float(0.0)]),
            row_key("fs:", "t", &[Value::Float(-0.0)])
        );
    }

    #[test]
    fn rows_match_their_pattern_and_the_declaration_key_does_not() {
        assert_eq!(row_pattern("p*:", "t"), "p\\*:t:*");
        assert_eq!(schema_key("fs:", "t"), "fs:t");
        assert!(row_key("fs:", "t", &[]).starts_with("fs:t:"));
    }
}
