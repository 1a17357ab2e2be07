//! `featurestore new`: writes a feature crate that builds and runs — its
//! `Cargo.toml` (the build profile that keeps polars' debug info off), a
//! sample declaration, the two-line binary, a commented `featurestore.toml`
//! and sample data.
//!
//! The crates are not published: the new crate depends on
//! `featurestore-runtime` by `path` (a checkout on this machine) or by `git`
//! URL. With a path, the checkout's `Cargo.lock` is copied too, so the crate
//! builds the versions the checkout was tested with, and a build directory
//! shared with the checkout (`CARGO_TARGET_DIR`) is reused as it is.

use std::fmt;
use std::path::{Path, PathBuf};

/// The files of a new crate, with `{{name}}`, `{{lib}}` and
/// `{{dependency}}` to fill in. Kept as files of their own, so they read as
/// what they are.
const TEMPLATE: [(&str, &str); 6] = [
    ("Cargo.toml", include_str!("../template/Cargo.toml")),
    (
        "featurestore.toml",
        include_str!("../template/featurestore.toml"),
    ),
    ("src/lib.rs", include_str!("../template/src/lib.rs")),
    ("src/main.rs", include_str!("../template/src/main.rs")),
    (
        "data/payments/payments.csv",
        include_str!("../template/data/payments/payments.csv"),
    ),
    // Not `.gitignore` in the template: cargo leaves such files out of packages.
    (".gitignore", include_str!("../template/gitignore")),
];

/// Where the new crate finds featurestore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A checkout on this machine (its root, holding `featurestore-runtime/`).
    Path(PathBuf),
    /// A git repository, optionally at a branch, tag or commit.
    Git {
        /// The repository's URL.
        url: String,
        /// `branch`, `tag` or `rev`, and its value.
        reference: Option<(&'static str, String)>,
    },
}

/// What `featurestore new` is asked for.
#[derive(Debug, Clone)]
pub struct NewCrate {
    /// The directory to create; its last component is the crate's name.
    pub dir: PathBuf,
    /// Where featurestore comes from.
    pub source: Source,
    /// Cargo features of the runtime to enable (`s3`, `redis`, …).
    pub features: Vec<String>,
}

/// Why a crate was not created.
#[derive(Debug)]
pub enum Error {
    /// A name cargo would refuse.
    Name(String),
    /// The directory exists and holds files.
    Exists(PathBuf),
    /// The given path is no featurestore checkout.
    NotACheckout(PathBuf),
    /// Writing a file failed.
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Name(message) => f.write_str(message),
            Error::Exists(dir) => write!(
                f,
                "{} already exists and is not empty; choose another directory",
                dir.display()
            ),
            Error::NotACheckout(dir) => write!(
                f,
                "{} is no featurestore checkout (there is no {}); give one with \
                 `--path DIR`, or a repository with `--git URL`",
                dir.display(),
                dir.join("featurestore-runtime/Cargo.toml").display()
            ),
            Error::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

/// The checkout this program was built from, when it still exists: the
/// default `--path`. Only a dependency path for the crates it writes; they
/// never read anything else from it.
pub fn default_checkout() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    dir.join("featurestore-runtime/Cargo.toml")
        .is_file()
        .then(|| dir.to_path_buf())
}

/// Checks that `name` is a crate name cargo accepts and Rust can import:
/// ASCII letters, digits, `-` and `_`, starting with a letter.
pub fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Error::Name(format!(
            "`{name}` is not a valid crate name: use ASCII letters, digits, `-` and `_`, \
             starting with a letter (e.g. `payments_features`)"
        )));
    }
    // The library's own imports would then clash with the runtime's.
    if [
        "featurestore_runtime",
        "featurestore_core",
        "featurestore_macros",
        "test",
    ]
    .contains(&name.replace('-', "_").as_str())
    {
        return Err(Error::Name(format!(
            "`{name}` is the name of a crate it depends on or of a built-in one; choose another"
        )));
    }
    Ok(())
}

/// The `featurestore-runtime = …` line of the new `Cargo.toml`.
fn dependency(source: &Source, features: &[String]) -> String {
    let quoted = |s: &str| format!("{s:?}");
    let mut fields = match source {
        Source::Path(dir) => vec![format!(
            "path = {}",
            quoted(&dir.join("featurestore-runtime").display().to_string())
        )],
        Source::Git { url, reference } => {
            let mut v = vec![format!("git = {}", quoted(url))];
            if let Some((kind, value)) = reference {
                v.push(format!("{kind} = {}", quoted(value)));
            }
            v
        }
    };
    if !features.is_empty() {
        let list: Vec<String> = features.iter().map(|f| quoted(f)).collect();
        fields.push(format!("features = [{}]", list.join(", ")));
    }
    format!("featurestore-runtime = {{ {} }}", fields.join(", "))
}

/// Writes the crate; returns the files written, relative to its directory.
pub fn create(new: &NewCrate) -> Result<Vec<PathBuf>, Error> {
    let name = new
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            Error::Name(format!(
                "{}: give a directory whose last component names the crate",
                new.dir.display()
            ))
        })?;
    check_name(name)?;
    if let Source::Path(dir) = &new.source {
        if !dir.join("featurestore-runtime/Cargo.toml").is_file() {
            return Err(Error::NotACheckout(dir.clone()));
        }
    }
    let occupied = std::fs::read_dir(&new.dir).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        return Err(Error::Exists(new.dir.clone()));
    }
    let dependency = dependency(&new.source, &new.features);
    let lib = name.replace('-', "_");
    let mut written = Vec::new();
    for (file, text) in TEMPLATE {
        let text = text
            .replace("{{name}}", name)
            .replace("{{lib}}", &lib)
            .replace("{{dependency}}", &dependency);
        write(&new.dir, Path::new(file), text.as_bytes())?;
        written.push(PathBuf::from(file));
    }
    // The versions the checkout builds and tests with; cargo adds the new
    // crate to it and drops what it does not need on the first build.
    if let Source::Path(dir) = &new.source {
        let lock = dir.join("Cargo.lock");
        if let Ok(text) = std::fs::read(&lock) {
            write(&new.dir, Path::new("Cargo.lock"), &text)?;
            written.push(PathBuf::from("Cargo.lock"));
        }
    }
    Ok(written)
}

fn write(dir: &Path, file: &Path, bytes: &[u8]) -> Result<(), Error> {
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::Io(parent.to_path_buf(), e))?;
    }
    std::fs::write(&path, bytes).map_err(|e| Error::Io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_refuses_are_refused() {
        for ok in ["payments", "payments-features", "p2p_features"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "2fa", "-x", "my crate", "café", "featurestore-runtime"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_dependency_line_is_valid_toml() {
        let line = dependency(
            &Source::Git {
                url: "https://example.invalid/fs.git".to_string(),
                reference: Some(("tag", "v0.1.0".to_string())),
            },
            &["s3".to_string(), "redis".to_string()],
        );
        let value: toml::Table = toml::from_str(&line).unwrap();
        let dep = &value["featurestore-runtime"];
        assert_eq!(dep["git"].as_str(), Some("https://example.invalid/fs.git"));
        assert_eq!(dep["tag"].as_str(), Some("v0.1.0"));
        assert_eq!(dep["features"].as_array().unwrap().len(), 2, "{line}");
        let path = dependency(&Source::Path(PathBuf::from("/src/fs \"x\"")), &[]);
        let value: toml::Table = toml::from_str(&path).unwrap();
        assert_eq!(
            value["featurestore-runtime"]["path"].as_str(),
            Some("/src/fs \"x\"/featurestore-runtime")
        );
    }
}
