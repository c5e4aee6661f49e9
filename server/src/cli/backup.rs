//! `attest admin backup | restore | verify-backup`: a consistent online copy of the
//! embedded instance (SQLite database + encrypted document store) with a manifest of
//! SHA-256 hashes, and its restore into an empty data directory.
//!
//! The database is copied first with `VACUUM INTO` (one read transaction: a consistent
//! snapshot while `attest serve` keeps writing), then the document files. A document's
//! files are written before its row, so every file the snapshot refers to already exists
//! when the copy starts; files written later are harmless extras. The master key is
//! copied only with `--include-master-key`: a backup that holds both the ciphertext and
//! its key is as sensitive as the live data.

use crate::config::Config;
use app::documents::crypto::{self, MasterKey};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{
    path::{Path, PathBuf},
    str::FromStr,
};

const FORMAT: &str = "attest-backup/1";
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "attest.db";
const DOCUMENTS: &str = "documents";
const KEY_FILE: &str = "master.key";

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Copy the embedded SQLite database, the document store and a manifest of hashes
    /// into DIR (new or empty), while the server keeps running.
    Backup {
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Also copy the master key into the backup (keep such a backup as safe as the key).
        #[arg(long)]
        include_master_key: bool,
    },
    /// Restore a backup into the configured data directory, which must be empty.
    Restore {
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
    /// Check a backup: every file against the manifest, the database's integrity, and
    /// (when the master key is at hand) that every document decrypts.
    VerifyBackup {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    created_at: String,
    attest_version: String,
    /// The newest migration applied to the copied database.
    schema_version: i64,
    database: FileEntry,
    documents: Vec<FileEntry>,
    master_key: KeyEntry,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    /// Relative to the backup directory, `/`-separated.
    path: String,
    size: u64,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyEntry {
    included: bool,
    /// Identifies the key without revealing it (`None` when none existed yet).
    fingerprint: Option<String>,
    sha256: Option<String>,
}

pub async fn run(command: BackupCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        BackupCommand::Backup { to, include_master_key } => backup(config, &to, include_master_key).await,
        BackupCommand::Restore { from } => restore(config, &from).await,
        BackupCommand::VerifyBackup { dir } => {
            let report = verify(&dir, configured_key(config)?.as_ref()).await?;
            println!(
                "{}: backup of {} is intact: database and {} document files match the manifest{}",
                dir.display(),
                report.created_at,
                report.documents,
                match report.decrypted {
                    Some(n) => format!("; {n} document files decrypt with the master key"),
                    None => "; documents not decrypted (no master key in the backup or ATTEST_MASTER_KEY)".into(),
                }
            );
            Ok(())
        }
    }
}

/// The SQLite file of the configured database; PostgreSQL is refused with what to do instead.
pub(super) fn sqlite_path(config: &Config, action: &str) -> anyhow::Result<PathBuf> {
    let url = config.database_url();
    if !url.starts_with("sqlite:") {
        anyhow::bail!(
            "{action} covers the embedded SQLite database only; with PostgreSQL, back up the database with pg_dump or point-in-time recovery, the document store (bucket versioning) and the master key separately (README, \"Backup and restore\")"
        );
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename().to_path_buf();
    if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
        anyhow::bail!("{action}: DATABASE_URL is an in-memory database");
    }
    Ok(file)
}

/// The master key in use, without generating one: `ATTEST_MASTER_KEY` or `<data-dir>/master.key`.
fn current_key(config: &Config) -> anyhow::Result<Option<(MasterKey, KeySource)>> {
    if let Some(key) = configured_key(config)? {
        return Ok(Some((key, KeySource::Configured)));
    }
    let path = config.data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((MasterKey::from_base64(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?, KeySource::File(path)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

enum KeySource {
    Configured,
    File(PathBuf),
}

fn configured_key(config: &Config) -> anyhow::Result<Option<MasterKey>> {
    use secrecy::ExposeSecret;
    config.master_key.as_ref().map(|k| MasterKey::from_base64(k.expose_secret()).map_err(|e| anyhow::anyhow!("ATTEST_MASTER_KEY: {e}"))).transpose()
}

/// Names a key without revealing it (backup manifests, rotation messages).
pub(super) fn fingerprint(key: &MasterKey) -> String {
    hex::encode(&Sha256::digest(key.derive("attest backup fingerprint"))[..8])
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file written whole or not at all (temp file + rename), owner-only when `private`.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Missing or empty: the only directories a backup or restore writes into.
fn require_empty(dir: &Path, what: &str) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                anyhow::bail!("{what} {} is not empty; refusing to overwrite anything there", dir.display());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot read {what} {}: {e}", dir.display())),
    }
}

/// Every regular file under `root`, as `/`-separated paths relative to it, sorted.
fn list_files(root: &Path) -> anyhow::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            // Removed while we walked (a document deleted meanwhile).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let path = entry.path();
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                let relative = path.strip_prefix(root).expect("under root");
                let parts: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out).map_err(|e| anyhow::anyhow!("cannot list {}: {e}", root.display()))?;
    out.sort();
    Ok(out)
}

/// The blob store's own key syntax: no `..`, no absolute paths, nothing odd in a manifest.
fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty() && part != "." && part != ".." && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        })
}

pub(super) async fn open_sqlite(path: &Path, read_only: bool) -> anyhow::Result<sqlx::SqliteConnection> {
    use sqlx::ConnectOptions;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(read_only).busy_timeout(std::time::Duration::from_secs(30));
    options.connect().await.map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))
}

async fn backup(config: &Config, to: &Path, include_master_key: bool) -> anyhow::Result<()> {
    let source = sqlite_path(config, "attest admin backup")?;
    if !source.exists() {
        anyhow::bail!("no database at {} (DATABASE_URL / ATTEST_DATA_DIR): nothing to back up", source.display());
    }
    require_empty(to, "the backup directory")?;
    std::fs::create_dir_all(to).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", to.display()))?;
    let key = current_key(config)?;
    if include_master_key && key.is_none() {
        anyhow::bail!("--include-master-key: there is no master key yet (ATTEST_MASTER_KEY or {})", config.data_dir.join(KEY_FILE).display());
    }

    // 1. The database: one consistent snapshot, taken while writers carry on.
    let db_copy = to.join(DATABASE);
    let mut conn = open_sqlite(&source, false).await?;
    let target = db_copy.to_string_lossy().replace('\'', "''");
    sqlx::query(&format!("VACUUM INTO '{target}'")).execute(&mut conn).await.map_err(|e| anyhow::anyhow!("copying the database: {e}"))?;
    use sqlx::Connection;
    conn.close().await.ok();
    let mut copy = open_sqlite(&db_copy, true).await?;
    let schema_version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations").fetch_one(&mut copy).await.unwrap_or(0);
    let referenced = referenced_blobs(&mut copy).await?;
    copy.close().await.ok();
    let db_bytes = std::fs::read(&db_copy)?;
    let database = FileEntry { path: DATABASE.into(), size: db_bytes.len() as u64, sha256: sha256_hex(&db_bytes) };
    drop(db_bytes);

    // 2. The document store (sealed bytes, copied as they are).
    let documents_root = config.data_dir.join(DOCUMENTS);
    let mut documents = Vec::new();
    for relative in list_files(&documents_root)? {
        // A blob being written (temp file, renamed into place when complete).
        if relative.ends_with(".tmp") || !safe_relative(&relative) {
            continue;
        }
        let bytes = match std::fs::read(documents_root.join(&relative)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => anyhow::bail!("cannot read document file {relative}: {e}"),
        };
        let path = format!("{DOCUMENTS}/{relative}");
        write_new(&to.join(&path), &bytes, false).map_err(|e| anyhow::anyhow!("cannot write {path}: {e}"))?;
        documents.push(FileEntry { path, size: bytes.len() as u64, sha256: sha256_hex(&bytes) });
    }
    let copied: std::collections::HashSet<&str> = documents.iter().map(|d| &d.path[DOCUMENTS.len() + 1..]).collect();
    let missing: Vec<&String> = referenced.iter().filter(|key| !copied.contains(key.as_str())).collect();

    // 3. The key, only when asked.
    let master_key = match &key {
        Some((key, _)) if include_master_key => {
            let text = key.to_base64();
            write_new(&to.join(KEY_FILE), text.as_bytes(), true)?;
            KeyEntry { included: true, fingerprint: Some(fingerprint(key)), sha256: Some(sha256_hex(text.as_bytes())) }
        }
        Some((key, _)) => KeyEntry { included: false, fingerprint: Some(fingerprint(key)), sha256: None },
        None => KeyEntry { included: false, fingerprint: None, sha256: None },
    };

    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        attest_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        database,
        documents,
        master_key,
    };
    write_new(&to.join(MANIFEST), &serde_json::to_vec_pretty(&manifest)?, false)?;

    println!("backup written to {}: database (schema {schema_version}) and {} document files, with {MANIFEST}", to.display(), manifest.documents.len());
    if !missing.is_empty() {
        println!("warning: {} document files referenced by the database were deleted while the backup ran (those documents were being removed)", missing.len());
    }
    match (&key, include_master_key) {
        (Some(_), true) => println!("the master key is in {}: keep this backup as safe as the key itself", to.join(KEY_FILE).display()),
        (Some((_, source)), false) => {
            let place = match source {
                KeySource::Configured => "ATTEST_MASTER_KEY".to_string(),
                KeySource::File(path) => path.display().to_string(),
            };
            println!("the master key is NOT in this backup (fingerprint {}): keep a copy of {place} somewhere else (a password manager or secret store); without it no document in this backup can be read", manifest.master_key.fingerprint.as_deref().unwrap_or("-"));
        }
        (None, _) => println!("no master key exists yet (no document was ever stored)"),
    }
    Ok(())
}

/// Every blob key the database refers to.
async fn referenced_blobs(conn: &mut sqlx::SqliteConnection) -> anyhow::Result<Vec<String>> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT front_blob, back_blob FROM documents")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| anyhow::anyhow!("reading the database copy: {e}"))?;
    Ok(rows.into_iter().flat_map(|(front, back)| std::iter::once(front).chain(back)).collect())
}

struct Verified {
    manifest: Manifest,
    created_at: String,
    documents: usize,
    decrypted: Option<usize>,
}

fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e} (not an attest backup?)", path.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| anyhow::anyhow!("{}: not a valid manifest: {e}", path.display()))?;
    if manifest.format != FORMAT {
        anyhow::bail!("{}: unknown backup format '{}' (expected {FORMAT})", path.display(), manifest.format);
    }
    Ok(manifest)
}

/// Reads `entry` from the backup and checks its size and hash.
fn checked(dir: &Path, entry: &FileEntry) -> anyhow::Result<Vec<u8>> {
    if !safe_relative(&entry.path) {
        anyhow::bail!("the manifest names an unsafe path {:?}", entry.path);
    }
    let bytes = std::fs::read(dir.join(&entry.path)).map_err(|e| anyhow::anyhow!("{}: {e}", entry.path))?;
    if bytes.len() as u64 != entry.size || sha256_hex(&bytes) != entry.sha256 {
        anyhow::bail!("{} does not match the manifest (size or SHA-256 differs): the backup is damaged", entry.path);
    }
    Ok(bytes)
}

/// Checks the whole backup; `configured` is the operator's key when the backup has none.
async fn verify(dir: &Path, configured: Option<&MasterKey>) -> anyhow::Result<Verified> {
    let manifest = read_manifest(dir)?;
    checked(dir, &manifest.database)?;
    let key = backup_key(dir, &manifest, configured)?;
    let mut decrypted = 0;
    for entry in &manifest.documents {
        if !entry.path.starts_with("documents/") {
            anyhow::bail!("the manifest names {:?} outside documents/", entry.path);
        }
        let bytes = checked(dir, entry)?;
        if let Some(key) = &key {
            crypto::open(key, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", entry.path))?;
            decrypted += 1;
        }
    }
    // Files the manifest does not know are not part of the backup.
    let listed: std::collections::HashSet<&str> = manifest.documents.iter().map(|d| d.path.as_str()).collect();
    for relative in list_files(&dir.join(DOCUMENTS))? {
        if !listed.contains(format!("{DOCUMENTS}/{relative}").as_str()) {
            anyhow::bail!("{DOCUMENTS}/{relative} is not in the manifest: the backup was changed after it was made");
        }
    }
    // The database copy itself must be sound.
    let db = dir.join(&manifest.database.path);
    let mut conn = open_sqlite(&db, true).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await?;
    sqlx::Connection::close(conn).await.ok();
    if integrity != "ok" {
        anyhow::bail!("the database copy fails SQLite's integrity check: {integrity}");
    }
    Ok(Verified { created_at: manifest.created_at.clone(), documents: manifest.documents.len(), decrypted: key.map(|_| decrypted), manifest })
}

/// The key to decrypt with: the backup's own, else the configured one (which must be
/// the backup's: compared by fingerprint).
fn backup_key(dir: &Path, manifest: &Manifest, configured: Option<&MasterKey>) -> anyhow::Result<Option<MasterKey>> {
    let included = if manifest.master_key.included {
        let entry = FileEntry { path: KEY_FILE.into(), size: 0, sha256: manifest.master_key.sha256.clone().unwrap_or_default() };
        let text = std::fs::read(dir.join(KEY_FILE)).map_err(|e| anyhow::anyhow!("{KEY_FILE}: {e}"))?;
        if sha256_hex(&text) != entry.sha256 {
            anyhow::bail!("{KEY_FILE} does not match the manifest: the backup is damaged");
        }
        Some(MasterKey::from_base64(&String::from_utf8_lossy(&text)).map_err(|e| anyhow::anyhow!("{KEY_FILE}: {e}"))?)
    } else {
        None
    };
    if let (Some(key), Some(expected)) = (configured, &manifest.master_key.fingerprint) {
        if &fingerprint(key) != expected {
            anyhow::bail!("ATTEST_MASTER_KEY is not the master key of this backup (fingerprint {expected}): its documents could not be read with it");
        }
    }
    Ok(included.or_else(|| configured.cloned()))
}

async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    let target = sqlite_path(config, "attest admin restore")?;
    require_empty(&config.data_dir, "the data directory")?;
    if target.exists() {
        anyhow::bail!("a database already exists at {}; refusing to overwrite it", target.display());
    }
    let configured = configured_key(config)?;
    let report = verify(from, configured.as_ref()).await?;
    let manifest = report.manifest;

    std::fs::create_dir_all(&config.data_dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", config.data_dir.display()))?;
    for entry in &manifest.documents {
        let bytes = checked(from, entry)?;
        write_new(&config.data_dir.join(&entry.path), &bytes, false).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", entry.path))?;
    }
    let key_note = if manifest.master_key.included && configured.is_none() {
        let text = std::fs::read(from.join(KEY_FILE))?;
        write_new(&config.data_dir.join(KEY_FILE), &text, true)?;
        format!("the master key was restored to {}", config.data_dir.join(KEY_FILE).display())
    } else if configured.is_some() {
        "documents will be read with ATTEST_MASTER_KEY (it matches this backup)".to_string()
    } else if let Some(fingerprint) = &manifest.master_key.fingerprint {
        format!(
            "the master key is not in this backup: set ATTEST_MASTER_KEY (or write it to {}) to the key with fingerprint {fingerprint} BEFORE starting attest, or no document can be read",
            config.data_dir.join(KEY_FILE).display()
        )
    } else {
        "the backup had no master key (no documents)".to_string()
    };
    // The database last: an interrupted restore leaves no database that looks complete.
    let db = checked(from, &manifest.database)?;
    write_new(&target, &db, false).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
    println!(
        "restored the backup of {} (schema {}, {} document files) into {}; {key_note}",
        manifest.created_at,
        manifest.schema_version,
        manifest.documents.len(),
        config.data_dir.display()
    );
    Ok(())
}
