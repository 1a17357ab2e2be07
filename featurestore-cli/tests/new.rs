//! `featurestore new` as a user runs it: the files it writes, and its errors.
//! That the crate builds and runs is `scripts/newcomer.sh`'s test (it
//! compiles polars).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn featurestore(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_featurestore"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn new_writes_a_crate_that_depends_on_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let out = featurestore(
        dir.path(),
        &["new", "fraud-features", "--features", "s3,redis"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dir.path().join("fraud-features");

    let manifest: toml::Table = toml::from_str(&read(&root.join("Cargo.toml"))).unwrap();
    assert_eq!(manifest["package"]["name"].as_str(), Some("fraud-features"));
    // A workspace of its own, so it builds wherever it is created.
    assert!(manifest.contains_key("workspace"));
    let dep = &manifest["dependencies"]["featurestore-runtime"];
    assert_eq!(
        dep["path"].as_str(),
        Some(checkout().join("featurestore-runtime").to_str().unwrap())
    );
    assert_eq!(
        dep["features"].as_array().unwrap(),
        &vec![toml::Value::from("s3"), toml::Value::from("redis")]
    );
    assert!(!manifest["dependencies"]
        .as_table()
        .unwrap()
        .contains_key("chrono"));
    // The workspace's profile: no debug info for dependencies.
    assert_eq!(
        manifest["profile"]["dev"]["package"]["*"]["debug"].as_bool(),
        Some(false)
    );

    // The binary names the library as Rust spells it, and returns ExitCode.
    let main = read(&root.join("src/main.rs"));
    assert!(main.contains("fraud_features::registry()"), "{main}");
    assert!(main.contains("fn main() -> ExitCode"), "{main}");
    assert!(
        main.contains("include_str!(\"../featurestore.toml\")"),
        "{main}"
    );
    // No placeholder is left in any file.
    for file in [
        "Cargo.toml",
        "featurestore.toml",
        "src/lib.rs",
        "src/main.rs",
    ] {
        assert!(!read(&root.join(file)).contains("{{"), "{file}");
    }
    // The source's configured path holds the sample data.
    let config: toml::Table = toml::from_str(&read(&root.join("featurestore.toml"))).unwrap();
    let path = config["sources"]["payments"]["path"].as_str().unwrap();
    assert!(read(&root.join(path)).starts_with("payment_id,user_id,amount,paid_at\n"));
    assert_eq!(
        std::fs::read(root.join("Cargo.lock")).unwrap(),
        std::fs::read(checkout().join("Cargo.lock")).unwrap()
    );
}

#[test]
fn a_git_dependency_is_written_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = featurestore(
        dir.path(),
        &[
            "new",
            "payments",
            "--git",
            "https://example.invalid/featurestore.git",
            "--tag",
            "v0.1.0",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: toml::Table =
        toml::from_str(&read(&dir.path().join("payments/Cargo.toml"))).unwrap();
    let dep = &manifest["dependencies"]["featurestore-runtime"];
    assert_eq!(
        dep["git"].as_str(),
        Some("https://example.invalid/featurestore.git")
    );
    assert_eq!(dep["tag"].as_str(), Some("v0.1.0"));
    // No lockfile of a checkout that is not there.
    assert!(!dir.path().join("payments/Cargo.lock").exists());
}

#[test]
fn bad_requests_fail_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    std::fs::write(dir.path().join("taken/notes.txt"), "mine").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&["new", "taken"], "already exists and is not empty"),
        (&["new", "2fast"], "not a valid crate name"),
        (
            &["new", "payments", "--path", "/nonexistent/checkout"],
            "is no featurestore checkout",
        ),
    ];
    for (args, message) in cases {
        let out = featurestore(dir.path(), args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["taken"]);
    assert_eq!(read(&dir.path().join("taken/notes.txt")), "mine");
    assert_eq!(
        std::fs::read_dir(dir.path().join("taken")).unwrap().count(),
        1
    );
}
