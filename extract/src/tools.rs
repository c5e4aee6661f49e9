//! External tools on untrusted files, run where a bomb cannot take the server down.
//!
//! poppler (`pdfinfo`, `pdftoppm`, `pdftotext`) and libheif (`heif-convert`) parse what
//! applicants upload, so every run is a child process with:
//! - rlimits, set by util-linux's `prlimit` wrapper (it sets them on itself, then execs
//!   the tool in the same process; `pre_exec` would need `unsafe`): address space
//!   ([`Limits::memory_bytes`]), CPU seconds, size of any file it writes (its output
//!   goes to files, so this also caps stdout) and no core dumps;
//! - a wall-clock deadline: on expiry the child is killed and reaped (no zombie);
//! - no stdin, no stderr (poppler prints what it thinks of a file there, which we do not
//!   want in our logs), stdout only into a file the caller names.
//!
//! Without `prlimit` on the `PATH` (it is in util-linux, essential on Debian) the tools
//! still run under the deadline, without rlimits, and a warning is logged once.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What one tool run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time before the child is killed.
    pub wall: Duration,
    /// CPU seconds (`RLIMIT_CPU`): past it the kernel kills the child.
    pub cpu_seconds: u64,
    /// Address space (`RLIMIT_AS`): allocations past it fail.
    pub memory_bytes: u64,
    /// Largest file the child may write (`RLIMIT_FSIZE`): past it the kernel kills it.
    pub file_bytes: u64,
}

impl Limits {
    /// For the document tools. A letter page renders at 300 dpi in ~0.3 s of CPU and
    /// ~30 MB; a 40 MP HEIC photo decodes in a few seconds and ~400 MB (its threads'
    /// stacks and arenas count towards the address space). The largest output is a
    /// 40 MP page as 8-bit PGM (40 MB) or a 40 MP photo as RGB PNG (< 120 MB).
    pub const DOCUMENT: Limits = Limits { wall: Duration::from_secs(30), cpu_seconds: 20, memory_bytes: 1536 << 20, file_bytes: 160 << 20 };
}

/// Why a tool run produced nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The tool is not installed.
    Missing(String),
    /// It ran past [`Limits::wall`] and was killed.
    TimedOut,
    /// The kernel killed it for a limit: CPU time (`SIGXCPU`/`SIGKILL`) or file size
    /// (`SIGXFSZ`).
    OverLimit,
    /// It exited with an error or crashed on the input (a failed allocation under the
    /// address-space limit usually ends here: poppler and libheif abort).
    Failed(String),
    /// The run could not be set up (spawning, the output file).
    Io(String),
}

impl ToolError {
    /// Whether the input, not the machine, exhausted a budget: the same file would do it
    /// again, so it is not worth retrying.
    pub fn is_resource_exhaustion(&self) -> bool {
        matches!(self, ToolError::TimedOut | ToolError::OverLimit)
    }
}

// Linux signal numbers (no libc dependency for three constants).
const SIGKILL: i32 = 9;
const SIGXCPU: i32 = 24;
const SIGXFSZ: i32 = 25;
/// `prlimit`'s exit code when it cannot exec the tool (not found).
const EXEC_NOT_FOUND: i32 = 127;

fn prlimit() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let found = std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("prlimit")).find(|p| p.is_file()));
            if found.is_none() {
                tracing::warn!("prlimit (util-linux) is not installed: document tools run without memory and CPU limits");
            }
            found
        })
        .as_deref()
}

/// The command that runs `program` with `args` under `limits`' rlimits.
fn command(program: &str, args: &[&OsStr], limits: &Limits) -> Command {
    let mut cmd = match prlimit() {
        Some(prlimit) => {
            let mut cmd = Command::new(prlimit);
            cmd.arg(format!("--as={}", limits.memory_bytes))
                .arg(format!("--cpu={}", limits.cpu_seconds))
                .arg(format!("--fsize={}", limits.file_bytes))
                .arg("--core=0")
                .arg("--")
                .arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Runs `program` under `limits`, its standard output (if wanted) written to `stdout`.
pub fn run(program: &str, args: &[&OsStr], stdout: Option<&Path>, limits: &Limits) -> Result<(), ToolError> {
    let mut cmd = command(program, args, limits);
    if let Some(path) = stdout {
        cmd.stdout(File::create(path).map_err(|e| ToolError::Io(format!("{program} output: {e}")))?);
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::Missing(program.to_string()),
        _ => ToolError::Io(format!("{program}: {e}")),
    })?;
    let status = wait_with_deadline(&mut child, limits.wall)?;
    classify(program, status)
}

/// Waits for `child` until `wall` has passed, then kills it. Either way the child is
/// reaped before this returns.
fn wait_with_deadline(child: &mut Child, wall: Duration) -> Result<ExitStatus, ToolError> {
    let deadline = Instant::now() + wall;
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError::TimedOut);
            }
            Ok(None) => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError::Io(e.to_string()));
            }
        }
    }
}

fn classify(program: &str, status: ExitStatus) -> Result<(), ToolError> {
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(EXEC_NOT_FOUND), _) if prlimit().is_some() => Err(ToolError::Missing(program.to_string())),
        (_, Some(SIGXCPU | SIGXFSZ | SIGKILL)) => Err(ToolError::OverLimit),
        (Some(code), _) => Err(ToolError::Failed(format!("{program} exited with {code}"))),
        (None, signal) => Err(ToolError::Failed(format!("{program} killed by signal {signal:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(wall_ms: u64) -> Limits {
        Limits { wall: Duration::from_millis(wall_ms), ..Limits::DOCUMENT }
    }

    /// A tool that hangs (a PDF crafted to loop in the renderer) is killed at the
    /// deadline and reaped, not waited for.
    #[test]
    fn a_hanging_tool_is_killed_at_the_deadline_and_reaped() {
        let started = Instant::now();
        assert_eq!(run("sleep", &[OsStr::new("30")], None, &limits(300)), Err(ToolError::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

        // The same through the parts, to see the process itself is gone (no zombie).
        let mut child = command("sleep", &[OsStr::new("30")], &limits(300)).spawn().unwrap();
        let pid = child.id();
        assert_eq!(wait_with_deadline(&mut child, Duration::from_millis(200)), Err(ToolError::TimedOut));
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} is still there (a zombie?)");
    }

    /// A busy loop (a rendering bomb) is stopped by the CPU rlimit, even with a long deadline.
    #[test]
    fn a_cpu_bomb_is_stopped_by_the_cpu_limit() {
        if !attest_test_support::needs::check(&attest_test_support::needs::PRLIMIT, prlimit().is_some(), "tools::a_cpu_bomb_is_stopped_by_the_cpu_limit") {
            return;
        }
        let started = Instant::now();
        let cpu = Limits { cpu_seconds: 1, ..limits(20_000) };
        assert_eq!(run("sh", &[OsStr::new("-c"), OsStr::new("while :; do :; done")], None, &cpu), Err(ToolError::OverLimit));
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    }

    /// A tool writing gigabytes (a page rendered at a huge size) is stopped by the file-size limit.
    #[test]
    fn an_output_bomb_is_stopped_by_the_file_size_limit() {
        if !attest_test_support::needs::check(
            &attest_test_support::needs::PRLIMIT,
            prlimit().is_some(),
            "tools::an_output_bomb_is_stopped_by_the_file_size_limit",
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let small = Limits { file_bytes: 1 << 20, ..limits(20_000) };
        assert_eq!(run("head", &[OsStr::new("-c"), OsStr::new("5000000"), OsStr::new("/dev/zero")], Some(&out), &small), Err(ToolError::OverLimit));
        assert!(std::fs::metadata(&out).unwrap().len() <= 1 << 20);
    }

    #[test]
    fn exit_codes_and_missing_tools_are_told_apart() {
        assert_eq!(run("true", &[], None, &limits(5_000)), Ok(()));
        assert!(matches!(run("false", &[], None, &limits(5_000)), Err(ToolError::Failed(_))));
        assert_eq!(run("attest-no-such-tool", &[], None, &limits(5_000)), Err(ToolError::Missing("attest-no-such-tool".into())));
    }
}
