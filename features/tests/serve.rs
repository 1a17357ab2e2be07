//! `features serve` as a client sees it: the binary started on a free port
//! of 127.0.0.1 over stores the README's run command filled, asked over
//! HTTP. Expected values come from the fixtures
//! (`tests/fixtures/legiti/*_online.csv`), never from the server.
//!
//! The Redis test starts a Redis server of its own (`scripts/servers.sh
//! start redis` on a free port, in a directory of its own) so that it can
//! stop and restart it without disturbing the shared one.

// Shared with the other test files, which use the rest of it.
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use support::succeed;

const ORDERS_3D: &str = "cpf_orders__count_over_3_days_rolling_windows";

/// A fixture's rows, by key: column name → cell.
fn fixture(name: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/legiti")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(&cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect();
            (row["cpf"].clone(), row)
        })
        .collect()
}

/// A fixture's `YYYY-MM-DD HH:MM:SS` as RFC 3339 in UTC, the JSON form.
fn rfc3339(cell: &str) -> String {
    format!("{}Z", cell.replace(' ', "T"))
}

/// The binary with its stores in `dir` (or the online store at `online`),
/// and no configuration from the caller's environment.
fn features(dir: &Path, online: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .arg("--online-url")
        .arg(online)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_DATASETS_ROOT")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS");
    cmd
}

fn embedded(dir: &Path) -> String {
    format!("redb://{}", dir.join("online.redb").display())
}

/// The README's run command, for one feature set.
fn execute(dir: &Path, online: &str, feature_set: &str) {
    succeed(features(dir, online).args([
        "execute",
        feature_set,
        "--end-date",
        "2020-07-17",
        "--format",
        "csv",
    ]));
}

/// A running `features serve`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    // Kept open: the server's later lines must not hit a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    fn start(dir: &Path, online: &str, args: &[&str]) -> Server {
        let mut child = features(dir, online)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(at) = line.find("http://") else {
            let _ = child.kill();
            panic!("the server did not say where it listens: {line:?}");
        };
        Server {
            child,
            base: line[at..].trim().to_string(),
            _stdout: stdout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests, from synchronous tests.
struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    token: Option<String>,
}

/// A response's status and body (JSON when it is JSON, else the text as a string).
type Answer = (u16, Json);

impl Client {
    fn new() -> Client {
        Client {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            token: None,
        }
    }

    fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let body = serde_json::from_str(&text).unwrap_or(Json::String(text));
            (status, body)
        })
    }

    fn get(&self, url: &str) -> Answer {
        self.send(self.http.get(url))
    }

    fn post(&self, url: &str, body: &Json) -> Answer {
        self.send(self.http.post(url).json(body))
    }

    fn post_raw(&self, url: &str, body: &str) -> Answer {
        self.send(
            self.http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
    }
}

fn acceptance_request() -> Json {
    json!({
        "features": [format!("user_orders:{ORDERS_3D}")],
        "entities": {"cpf": ["x", "y", "nobody"]},
    })
}

/// A fixture cell as the JSON number it holds.
fn number(cell: &str) -> Json {
    Json::from(cell.parse::<i64>().unwrap())
}

fn message(body: &Json) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn feast_lookup_answers_with_the_fixture_values_and_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    execute(dir.path(), &online, "feature_store.user_orders");
    execute(dir.path(), &online, "feature_store.user_chargebacks");
    let server = Server::start(dir.path(), &online, &[]);
    let client = Client::new();
    let orders = fixture("user_orders_online.csv");
    let chargebacks = fixture("user_chargebacks_online.csv");

    let (status, body) = client.post(&server.url("/get-online-features"), &acceptance_request());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["feature_names"], json!(["cpf", ORDERS_3D]));
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{body}");
    // Feast echoes the entity column first, present, at the epoch.
    assert_eq!(results[0]["values"], json!(["x", "y", "nobody"]));
    assert_eq!(
        results[0]["statuses"],
        json!(["PRESENT", "PRESENT", "PRESENT"])
    );
    assert_eq!(results[0]["event_timestamps"][0], "1970-01-01T00:00:00Z");
    // The acceptance: 2, 0, null; PRESENT, PRESENT, NOT_FOUND.
    assert_eq!(
        results[1]["values"],
        json!([
            number(&orders["x"][ORDERS_3D]),
            number(&orders["y"][ORDERS_3D]),
            null
        ])
    );
    assert_eq!(results[1]["values"], json!([2, 0, null]));
    assert_eq!(
        results[1]["statuses"],
        json!(["PRESENT", "PRESENT", "NOT_FOUND"])
    );
    assert_eq!(
        results[1]["event_timestamps"],
        json!([
            rfc3339(&orders["x"]["timestamp"]),
            rfc3339(&orders["y"]["timestamp"]),
            "1970-01-01T00:00:00Z"
        ])
    );

    // Two feature sets in one request, under their full names.
    let cb_30d = "cpf_chargebacks__count_over_30_days_rolling_windows";
    let (status, body) = client.post(
        &server.url("/get-online-features"),
        &json!({
            "features": [format!("user_chargebacks:{cb_30d}"), format!("user_orders:{ORDERS_3D}")],
            "entities": {"cpf": ["x", "z"]},
            "full_feature_names": true,
        }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["metadata"]["feature_names"],
        json!([
            "cpf",
            format!("user_chargebacks__{cb_30d}"),
            format!("user_orders__{ORDERS_3D}")
        ])
    );
    assert_eq!(
        body["results"][1]["values"],
        json!([number(&chargebacks["x"][cb_30d]), null])
    );
    assert_eq!(
        body["results"][1]["statuses"],
        json!(["PRESENT", "NOT_FOUND"])
    );
    assert_eq!(
        body["results"][2]["values"],
        json!([
            number(&orders["x"][ORDERS_3D]),
            number(&orders["z"][ORDERS_3D])
        ])
    );
}

#[test]
fn native_rows_and_catalog_equal_the_fixtures_and_describe() {
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    execute(dir.path(), &online, "feature_store.user_orders");
    execute(dir.path(), &online, "feature_store.user_chargebacks");
    let server = Server::start(dir.path(), &online, &[]);
    let client = Client::new();

    for (feature_set, file) in [
        ("user_orders", "user_orders_online.csv"),
        ("user_chargebacks", "user_chargebacks_online.csv"),
    ] {
        let expected = fixture(file);
        let mut keys: Vec<Json> = expected.keys().map(|k| json!({ "cpf": k })).collect();
        keys.push(json!({"cpf": "nobody"}));
        let (status, body) = client.post(
            &server.url(&format!("/v1/feature-sets/{feature_set}/rows")),
            &json!({ "keys": keys }),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["found"], expected.len(), "{body}");
        let rows = body["rows"].as_array().unwrap();
        assert_eq!(rows.len(), expected.len() + 1);
        assert_eq!(
            rows[expected.len()],
            Json::Null,
            "no row for an unknown key"
        );
        for (row, want) in rows.iter().zip(expected.values()) {
            let got = row.as_object().unwrap();
            assert_eq!(got.len(), want.len(), "{row}");
            for (column, cell) in want {
                let value = match column.as_str() {
                    "cpf" => json!(cell),
                    "timestamp" => json!(rfc3339(cell)),
                    _ => number(cell),
                };
                assert_eq!(got[column], value, "{feature_set} {column} of {row}");
            }
        }

        // The catalog is what `describe --json` prints.
        let described: Json = serde_json::from_slice(
            &succeed(features(dir.path(), &online).args(["describe", feature_set, "--json"]))
                .stdout,
        )
        .unwrap();
        let (status, body) = client.get(&server.url(&format!("/v1/feature-sets/{feature_set}")));
        assert_eq!(status, 200);
        assert_eq!(body, described);
    }
    let (status, body) = client.get(&server.url("/v1/feature-sets"));
    assert_eq!(status, 200);
    let names: Vec<&str> = body["feature_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature_set"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user_orders", "user_chargebacks"]);

    let (status, body) = client.get(&server.url("/openapi.json"));
    assert_eq!(status, 200);
    assert_eq!(body["openapi"], "3.0.3");
    assert!(
        body["paths"]["/get-online-features"]["post"].is_object(),
        "{body}"
    );
}

#[test]
fn bad_requests_get_a_4xx_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    execute(dir.path(), &online, "feature_store.user_orders");
    let server = Server::start(
        dir.path(),
        &online,
        &["--max-keys", "3", "--max-body-bytes", "1000"],
    );
    let client = Client::new();
    let feast = server.url("/get-online-features");
    let expect = |(status, body): Answer, want: u16, needle: &str| {
        assert_eq!(status, want, "{body}");
        assert!(message(&body).contains(needle), "{needle:?} not in {body}");
    };

    expect(
        client.post_raw(&feast, "{\"features\": ["),
        400,
        "line 1 column",
    );
    expect(client.post_raw(&feast, "[]"), 400, "request body");
    expect(
        client.post(
            &feast,
            &json!({"features": ["nope:x"], "entities": {"cpf": ["x"]}}),
        ),
        404,
        "no feature set `nope`; declared: user_orders, user_chargebacks",
    );
    expect(
        client.post(
            &feast,
            &json!({"features": ["user_orders:nope"], "entities": {"cpf": ["x"]}}),
        ),
        404,
        "feature set `user_orders` has no feature column `nope`",
    );
    expect(
        client.post(
            &feast,
            &json!({"features": [ORDERS_3D], "entities": {"cpf": ["x"]}}),
        ),
        400,
        "is not a reference `feature_set:column`",
    );
    expect(
        client.post(
            &feast,
            &json!({"features": [format!("user_orders:{ORDERS_3D}")], "entities": {"cpf": [7]}}),
        ),
        400,
        "`entities.cpf[0]`: key column `cpf` is a string, got 7",
    );
    expect(
        client.post(
            &feast,
            &json!({"features": [format!("user_orders:{ORDERS_3D}")], "entities": {"user": ["x"]}}),
        ),
        400,
        "`user` is no key of the requested feature sets",
    );
    expect(
        client.post(&feast, &json!({"features": [format!("user_orders:{ORDERS_3D}")], "entities": {"cpf": ["a", "b", "c", "d"]}})),
        400,
        "4 rows asked for; at most 3 per request",
    );
    expect(
        client.post(&feast, &json!({"features": [format!("user_orders:{ORDERS_3D}")], "entities": {"cpf": ["x".repeat(2000)]}})),
        413,
        "length limit exceeded",
    );
    let rows = server.url("/v1/feature-sets/user_orders/rows");
    expect(
        client.post(&rows, &json!({"keys": [{"cpf": true}]})),
        400,
        "`keys[0].cpf`: key column `cpf` is a string, got true",
    );
    expect(
        client.post(&rows, &json!({"keys": [{}]})),
        400,
        "`keys[0]`: key column `cpf` is missing",
    );
    expect(
        client.post(&rows, &json!({"keys": [{"cpf": "x", "id": 1}]})),
        400,
        "`id` is no key column of `user_orders`",
    );
    expect(
        client.post(&rows, &json!({"cpf": "x"})),
        400,
        "unknown field `cpf`",
    );
    expect(
        client.post(
            &server.url("/v1/feature-sets/nope/rows"),
            &json!({"keys": []}),
        ),
        404,
        "no feature set `nope`",
    );
    expect(
        client.get(&server.url("/v1/feature-sets/nope")),
        404,
        "no feature set `nope`",
    );
    expect(client.get(&server.url("/nowhere")), 404, "no such route");
    // Still answering after all of that.
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_token_file_makes_every_route_but_health_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    execute(dir.path(), &online, "feature_store.user_orders");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cr3t-token\n").unwrap();
    let server = Server::start(
        dir.path(),
        &online,
        &["--token-file", token_file.to_str().unwrap()],
    );
    let mut client = Client::new();
    let feast = server.url("/get-online-features");
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("Authorization: Bearer"), "{body}");
    let (status, _) = client.get(&server.url("/v1/feature-sets"));
    assert_eq!(status, 401);
    let (status, _) = client.get(&server.url("/health"));
    assert_eq!(
        status, 200,
        "health needs no token: load balancers probe it"
    );
    client.token = Some("s3cr3t-tokeN".to_string());
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 401);
    assert!(
        !body.to_string().contains("s3cr3t"),
        "the token is never shown: {body}"
    );
    client.token = Some("s3cr3t-token".to_string());
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][1]["values"], json!([2, 0, null]));

    // An empty token file is refused at start, not taken as "no token".
    std::fs::write(&token_file, "\n").unwrap();
    let out = features(dir.path(), &online)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--token-file",
            token_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));
}

#[test]
fn health_and_metrics_report_the_store_and_the_requests() {
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    execute(dir.path(), &online, "feature_store.user_orders");
    let server = Server::start(dir.path(), &online, &[]);
    let client = Client::new();
    let (status, body) = client.get(&server.url("/health"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["online_store"]["backend"], "redb");
    for _ in 0..3 {
        assert_eq!(
            client
                .post(&server.url("/get-online-features"), &acceptance_request())
                .0,
            200
        );
    }
    assert_eq!(client.get(&server.url("/v1/feature-sets/nope")).0, 404);
    let (status, body) = client.get(&server.url("/metrics"));
    assert_eq!(status, 200);
    let text = body.as_str().unwrap();
    for line in [
        "featurestore_http_requests_total{method=\"POST\",route=\"/get-online-features\",status=\"200\"} 3",
        "featurestore_http_requests_total{method=\"GET\",route=\"/v1/feature-sets/{name}\",status=\"404\"} 1",
        "featurestore_http_request_duration_seconds_count{route=\"/get-online-features\"} 3",
        // 3 requests of 3 keys, 2 of which have rows.
        "featurestore_keys_looked_up_total{feature_set=\"user_orders\"} 9",
        "featurestore_rows_served_total{feature_set=\"user_orders\"} 6",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing from\n{text}");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly_and_runs_write_while_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    execute(dir.path(), &online, "feature_store.user_orders");
    let mut server = Server::start(dir.path(), &online, &[]);
    let client = Client::new();
    assert_eq!(
        client
            .post(&server.url("/get-online-features"), &acceptance_request())
            .0,
        200
    );

    // A run writes the embedded store while the server is up: the server
    // holds the file only during requests.
    execute(dir.path(), &online, "feature_store.user_chargebacks");
    let cb = "cpf_chargebacks__count_over_3_days_rolling_windows";
    let expected = fixture("user_chargebacks_online.csv");
    let (status, body) = client.post(
        &server.url("/get-online-features"),
        &json!({"features": [format!("user_chargebacks:{cb}")], "entities": {"cpf": ["x"]}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"][1]["values"],
        json!([number(&expected["x"][cb])])
    );

    succeed(Command::new("kill").args(["-TERM", &server.pid().to_string()]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// A Redis server of this test's own, on a free port, in `dir`.
struct OwnRedis {
    dir: PathBuf,
    port: u16,
}

impl OwnRedis {
    fn servers(&self, action: &str) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers.sh");
        let out = Command::new(script)
            .args([action, "redis"])
            .env("FEATURESTORE_REDIS_PORT", self.port.to_string())
            .env("FEATURESTORE_SERVERS_DIR", &self.dir)
            .output()
            .expect("scripts/servers.sh runs");
        assert!(
            out.status.success(),
            "`scripts/servers.sh {action} redis` failed (it needs redis-server; \
             `scripts/servers.sh start redis` installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.servers("stop"));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_redis_store_that_goes_down_gets_503_and_the_server_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let redis = OwnRedis {
        dir: dir.path().join("servers"),
        port: free_port(),
    };
    redis.servers("start");
    let online = format!("redis://127.0.0.1:{}", redis.port);
    execute(dir.path(), &online, "feature_store.user_orders");
    let server = Server::start(dir.path(), &online, &["--request-timeout-ms", "1000"]);
    let client = Client::new();
    let feast = server.url("/get-online-features");
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][1]["values"], json!([2, 0, null]));

    // A store that hangs: Redis holds every client for 3 s. The request
    // gets its 503 within its time limit, not after the pause.
    let paused = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &redis.port.to_string(),
            "CLIENT",
            "PAUSE",
            "3000",
            "ALL",
        ])
        .output()
        .expect("redis-cli runs (scripts/servers.sh installs it)");
    assert!(paused.status.success(), "{paused:?}");
    let asked = Instant::now();
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 503, "{body}");
    assert!(
        asked.elapsed() < Duration::from_millis(2500),
        "answered after {:?}",
        asked.elapsed()
    );
    std::thread::sleep(Duration::from_millis(3000).saturating_sub(asked.elapsed()));
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 200, "after the pause: {body}");

    redis.servers("stop");
    let (status, body) = client.post(&feast, &acceptance_request());
    assert_eq!(status, 503, "{body}");
    assert!(
        message(&body).contains("redis"),
        "the message names the store: {body}"
    );
    let (status, _) = client.get(&server.url("/health"));
    assert_eq!(status, 503);

    // Back (empty: a stopped test server loses its data), refilled by a run.
    redis.servers("start");
    execute(dir.path(), &online, "feature_store.user_orders");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = client.post(&feast, &acceptance_request());
        if status == 200 {
            assert_eq!(body["results"][1]["values"], json!([2, 0, null]));
            assert_eq!(
                body["results"][1]["statuses"],
                json!(["PRESENT", "PRESENT", "NOT_FOUND"])
            );
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "no recovery within 15 s: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(client.get(&server.url("/health")).0, 200);
}

#[test]
fn the_catalog_page_shows_feature_sets_lineage_freshness_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    let server = Server::start(dir.path(), &online, &[]);
    let client = Client::new();
    let (status, body) = client.get(&server.url("/"));
    assert_eq!(status, 200);
    let page = body.as_str().unwrap().to_string();
    assert!(
        page.contains("freshness: no run recorded yet"),
        "before any run"
    );

    execute(dir.path(), &online, "feature_store.user_orders");
    let (status, body) = client.get(&server.url("/"));
    assert_eq!(status, 200);
    let page = body.as_str().unwrap();
    for needle in [
        "id=\"feature-set-user_orders\"",
        "id=\"feature-set-user_chargebacks\"",
        "id=\"source-order_events\"",
        "id=\"dataset-awesome_dataset\"",
        "<svg id=\"lineage\"",
        "<svg class=\"histogram\"",
        "<svg class=\"over-runs\"",
        ORDERS_3D,
    ] {
        assert!(page.contains(needle), "{needle:?} missing from the page");
    }
    // Each feature set reads the one source, and the example's dataset
    // joins both: four arrows.
    assert_eq!(page.matches("<line ").count(), 4);
    // The run's online rows: one per key of the fixture.
    let written = format!(
        "{} online rows written",
        fixture("user_orders_online.csv").len()
    );
    assert!(page.contains(&written), "{written:?} missing");
    assert_eq!(
        page.matches("freshness: no run recorded yet").count(),
        1,
        "user_chargebacks has not run"
    );
}

/// The page in a real browser: headless Chromium (Debian's `chromium`)
/// renders it, its DOM holds both feature sets, the lineage picture and a
/// plot, and a screenshot is kept in the test's output directory.
#[test]
fn the_catalog_page_renders_in_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| {
            panic!("no chromium: `apt-get install chromium` (scripts/test.sh installs it)")
        });
    let dir = tempfile::tempdir().unwrap();
    let online = embedded(dir.path());
    execute(dir.path(), &online, "feature_store.user_orders");
    execute(dir.path(), &online, "feature_store.user_chargebacks");
    execute(dir.path(), &online, "feature_store.user_orders");
    let server = Server::start(dir.path(), &online, &[]);
    let headless = |extra: &[&str]| {
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("chromium").display()
        ))
        .args(extra)
        .arg(server.url("/"));
        succeed(&mut cmd)
    };
    let dom = String::from_utf8(headless(&["--dump-dom"]).stdout).unwrap();
    for needle in [
        "id=\"feature-set-user_orders\"",
        "id=\"feature-set-user_chargebacks\"",
        "<svg id=\"lineage\"",
        "class=\"histogram\"",
        "class=\"over-runs\"",
    ] {
        assert!(
            dom.contains(needle),
            "{needle:?} missing from the rendered page"
        );
    }
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-page.png");
    let _ = std::fs::remove_file(&shot);
    headless(&[
        "--window-size=1280,2200",
        &format!("--screenshot={}", shot.display()),
    ]);
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture"
    );
    eprintln!("screenshot: {}", shot.display());
}

/// With `entity_tables = true` on Cassandra, a request for two feature sets
/// of `cpf` is answered from the entity table `cpf`, one read per key: the
/// feature sets' own tables emptied, the answer is unchanged.
#[test]
fn two_feature_sets_of_one_entity_are_served_from_the_cassandra_entity_table() {
    let node = support::test_server("FEATURESTORE_TEST_CASSANDRA", "cassandra");
    let cql = support::cql;
    let keyspace = "fs_test_serve_entity";
    cql(&format!("DROP KEYSPACE IF EXISTS {keyspace}"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("featurestore.toml");
    std::fs::write(&config, "[online.cassandra]\nentity_tables = true\n").unwrap();
    let online = format!("cassandra://{node}/{keyspace}");
    let with_config = |args: &[&str]| {
        let mut cmd = features(dir.path(), &online);
        // Paths in a config file are its folder's: the example's input
        // is named in full.
        let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/order_events/input.csv");
        cmd.arg("--config")
            .arg(&config)
            .arg("--source")
            .arg(format!("order_events={}", input.display()))
            .args(args);
        cmd
    };
    succeed(&mut with_config(&["migrate", "apply"]));
    for set in [
        "feature_store.user_orders",
        "feature_store.user_chargebacks",
    ] {
        succeed(&mut with_config(&[
            "execute",
            set,
            "--end-date",
            "2020-07-17",
        ]));
    }
    cql(&format!("TRUNCATE {keyspace}.user_orders"));
    cql(&format!("TRUNCATE {keyspace}.user_chargebacks"));

    let mut serve = with_config(&["serve", "--bind", "127.0.0.1:0"]);
    let mut child = serve
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let server = Server {
        base: line[line.find("http://").expect("the address")..]
            .trim()
            .to_string(),
        child,
        _stdout: stdout,
    };
    let cb_30d = "cpf_chargebacks__count_over_30_days_rolling_windows";
    let (status, body) = Client::new().post(
        &server.url("/get-online-features"),
        &json!({
            "features": [format!("user_chargebacks:{cb_30d}"), format!("user_orders:{ORDERS_3D}")],
            "entities": {"cpf": ["x", "z", "nobody"]},
        }),
    );
    assert_eq!(status, 200, "{body}");
    let orders = fixture("user_orders_online.csv");
    let chargebacks = fixture("user_chargebacks_online.csv");
    assert_eq!(
        body["results"][1]["values"],
        json!([number(&chargebacks["x"][cb_30d]), null, null])
    );
    assert_eq!(
        body["results"][1]["statuses"],
        json!(["PRESENT", "NOT_FOUND", "NOT_FOUND"])
    );
    assert_eq!(
        body["results"][2]["values"],
        json!([
            number(&orders["x"][ORDERS_3D]),
            number(&orders["z"][ORDERS_3D]),
            null
        ])
    );
    assert_eq!(
        body["results"][2]["event_timestamps"][0],
        json!(rfc3339(&orders["x"]["timestamp"]))
    );
    drop(server);
    cql(&format!("DROP KEYSPACE IF EXISTS {keyspace}"));
}
