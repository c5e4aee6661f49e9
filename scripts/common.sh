# Shared by scripts/run and scripts/test: toolchain, caches and the build.
# Sourced, not executed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Build output lives outside the clone so a fresh clone (and CI) reuses it; cargo's
# fingerprints make that safe. Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attest/target}"
mkdir -p "$CARGO_TARGET_DIR"
ATTEST_BIN="$CARGO_TARGET_DIR/debug/attest"

# Each step is stamped with the minutes and seconds since the first script started (the
# scripts that scripts/test runs count from its start).
ATTEST_SCRIPT_START="${ATTEST_SCRIPT_START:-$(date +%s)}"
export ATTEST_SCRIPT_START
log() {
  local t=$(($(date +%s) - ATTEST_SCRIPT_START))
  printf '\033[1m==> [%02d:%02d] %s\033[0m\n' $((t / 60)) $((t % 60)) "$*" >&2
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (apt)"
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_toolchain() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
  if ! cargo fmt --version >/dev/null 2>&1; then
    log "adding rustfmt"
    rustup component add rustfmt
  fi
  if ! cargo clippy --version >/dev/null 2>&1; then
    log "adding clippy"
    rustup component add clippy
  fi
  if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  use_clippy_driver
}

# Every build in these scripts compiles the workspace's own crates with clippy-driver
# (RUSTC_WORKSPACE_WRAPPER, the mechanism `cargo clippy` itself uses, here on a real
# build rather than a check): clippy's lints come with the compile, at no second pass over
# the dependencies (a cold `cargo clippy` of them took as long as building them), and
# scripts/test fails on any warning. Dependencies are compiled by plain rustc. The same
# wrapper everywhere keeps one set of artifacts for scripts/run, scripts/test, cargo
# nextest and the benchmarks; a build without it (plain `cargo test`) compiles the
# workspace's crates again beside them, which is harmless.
use_clippy_driver() {
  if [ -z "${RUSTC_WORKSPACE_WRAPPER:-}" ] && command -v clippy-driver >/dev/null; then
    RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
    export RUSTC_WORKSPACE_WRAPPER
  fi
}
use_clippy_driver

# npm packages: binaryen's wasm-opt for the bundle, Playwright for end-to-end tests.
ensure_node_packages() {
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ end2end/package-lock.json -nt end2end/node_modules/.stamp ]; then
    log "installing npm packages (end2end/)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
  fi
}

# Native libraries the document pipeline builds against and runs with (Debian):
# Tesseract + Leptonica (MRZ and proof-of-address OCR; clang for their bindings), dlib +
# OpenBLAS (faces), poppler (PDF pages; its pdftotext reads back the PS Form 1583 PDFs in the
# compliance tests), libheif's tools (HEIC), the OCR-B font the MRZ
# model is trained from.
PIPELINE_PACKAGES=(clang libclang-dev pkg-config libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng
  fonts-ocr-b libdlib-dev libopenblas-dev poppler-utils libheif-examples)
ensure_pipeline_packages() {
  apt_install "${PIPELINE_PACKAGES[@]}"
}

# The extraction models, built or fetched from registries only (never at run time):
# the MRZ model trained from Debian's OCR-B font, dlib's CC0 face models from PyPI.
export ATTEST_MODELS_DIR="${ATTEST_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attest/models}"
ensure_models() {
  mkdir -p "$ATTEST_MODELS_DIR"
  bash "$ROOT/scripts/models/mrz.sh" "$ATTEST_MODELS_DIR"
  bash "$ROOT/scripts/models/face.sh" "$ATTEST_MODELS_DIR"
}

# The packages the test build and cargo nextest compile together. One list for both, so
# cargo resolves the same features and nextest finds everything build_all built; `bench`
# is here so its programs are compiled (and linted) too.
TEST_PACKAGES=(-p app -p server -p attest-extract -p attest-test-support -p bench)

# Builds everything once, the way scripts/run and scripts/test both need it, so whichever
# runs second starts in seconds. The `attest` binary and every test binary build in the
# foreground, started first because their chain of crates (dependencies → app → server →
# tests) is the longest; the site builder and the browser bundle (wasm32) build beside
# them in profiles of their own (`xtask`, `wasm-release`), which cargo locks separately,
# and fill the foreground's single-threaded stretches. The foreground is `cargo test
# --no-run` over TEST_PACKAGES, exactly what cargo nextest runs first: a plain `cargo
# build -p server` would resolve other features (tests unify their dev-dependencies') and
# compile the dependencies a second time. Compiler output is kept in BUILD_LOG_DIR (when
# set) for scripts/test's warning check.
build_all() {
  local logs="${BUILD_LOG_DIR:-}" site_pid
  [ -n "$logs" ] || logs="$(mktemp -d /tmp/attest-build.XXXXXX)"
  mkdir -p "$logs"
  log "building the attest binary with the tests, and the site beside them"
  (
    cargo build -q -p xtask --profile xtask
    # xtask reads the workspace root from CARGO_MANIFEST_DIR, which `cargo run` would set.
    CARGO_MANIFEST_DIR="$ROOT/xtask" "$CARGO_TARGET_DIR/xtask/xtask" site
  ) >"$logs/site.log" 2>&1 &
  site_pid=$!
  if ! cargo test -q --no-run "${TEST_PACKAGES[@]}" 2>&1 | tee "$logs/tests.log" >&2; then
    kill "$site_pid" 2>/dev/null || true
    return 1
  fi
  if ! wait "$site_pid"; then
    cat "$logs/site.log" >&2
    log "the site build failed (above)"
    return 1
  fi
  cat "$logs/site.log" >&2
  log "built"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Python tools for the tests and benchmarks, in a virtualenv of their own: an SMTP sink
# (aiosmtpd), the webhook signature checker (standardwebhooks), the synthetic document
# generators (pdf417gen, an independent PDF417 encoder; Pillow and numpy to make them
# photo-like; fpdf2 for PDFs), the metrics parser, the API fuzzer (schemathesis,
# scripts/fuzz-api) and an S3-compatible server (moto's server mode, about 25 s to
# install cold; see README "Scaling out" for why not Garage).
TOOLS_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/attest/test-venv"
export ATTEST_TEST_PYTHON="$TOOLS_VENV/bin/python"
ensure_test_tools() {
  apt_install python3-venv curl
  if ! "$TOOLS_VENV/bin/python" -c 'import aiosmtpd, standardwebhooks, pdf417gen, PIL, numpy, fpdf, prometheus_client, schemathesis' 2>/dev/null; then
    log "installing test tools (PyPI: aiosmtpd, standardwebhooks, pdf417gen, Pillow, numpy, fpdf2, schemathesis)"
    python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check aiosmtpd==1.4.6 standardwebhooks==1.1.0 \
      pdf417gen==0.8.1 Pillow==13.0.0 numpy==2.4.6 fpdf2==2.8.9 prometheus_client==0.26.0 schemathesis==4.32.5
  fi
  if ! "$TOOLS_VENV/bin/python" -c 'import moto, flask' 2>/dev/null; then
    log "installing the S3 test server (PyPI: moto[server])"
    "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.6'
  fi
}

# A throwaway PostgreSQL cluster in DIR on loopback (initdb refuses to run as root);
# sets PG_URL. Stop it with `stop_postgres DIR`.
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
run_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PG_BIN/$1" "${@:2}"; else "$PG_BIN/$1" "${@:2}"; fi
}
start_postgres() {
  local dir="$1" port
  apt_install postgresql
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chmod 755 "$(dirname "$dir")"; chown postgres "$dir"; fi
  port="$(free_port)"
  log "starting PostgreSQL on 127.0.0.1:$port"
  run_pg initdb -D "$dir" -U postgres -A trust --no-sync >/dev/null
  run_pg pg_ctl -D "$dir" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
stop_postgres() { run_pg pg_ctl -D "$1" -m immediate stop >/dev/null 2>&1 || true; }

# moto's S3 server on loopback, logging to LOG; sets S3_ENDPOINT and S3_PID.
start_s3() {
  local port
  port="$(free_port)"
  log "starting an S3-compatible server (moto) on 127.0.0.1:$port"
  "$TOOLS_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$1" 2>&1 &
  S3_PID=$!
  for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  S3_ENDPOINT="http://127.0.0.1:$port"
}
