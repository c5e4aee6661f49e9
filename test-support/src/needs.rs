//! Whether a test may skip when something it needs is missing.
//!
//! A skipped test is reported "ok" by the test runner, so a run that silently lacks
//! PostgreSQL or the models would look green while testing half of what it claims. The
//! rules, decided here and nowhere else ([`decide`]):
//!
//! - the dependency is there: the test runs;
//! - `ATTEST_TEST_REQUIRE_<NAME>=1`, or `CI` is set (any value but empty, `0` or
//!   `false`): a missing dependency fails the test, naming it and how to provide it;
//! - `ATTEST_TEST_REQUIRE_<NAME>=0`: skipping is allowed even under `CI` (a job that
//!   deliberately runs without it says so in its environment);
//! - otherwise (a developer's machine): the test is skipped and says so on the real
//!   stderr, past the test harness's output capture, naming what is missing and how to
//!   provide it;
//! - any other value of `ATTEST_TEST_REQUIRE_<NAME>` (`true`, `yes`, empty…) is an
//!   error, whether or not the dependency is there: a typo must not turn a
//!   requirement off.

use std::io::Write;

/// Something a test needs from its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// What is missing, for the message.
    pub what: &'static str,
    /// The variable that makes it mandatory (`1`) or optional (`0`).
    pub require_var: &'static str,
    /// How to provide it.
    pub how: &'static str,
}

/// The PostgreSQL server the `postgres` half of the integration tests runs on.
pub const POSTGRES: Need = Need {
    what: "a PostgreSQL server (ATTEST_TEST_POSTGRES_URL is not set)",
    require_var: "ATTEST_TEST_REQUIRE_POSTGRES",
    how: "set ATTEST_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres (a server where the tests may create databases; scripts/test starts one)",
};

/// The S3-compatible server the object-store tests write to.
pub const S3: Need = Need {
    what: "an S3-compatible server (ATTEST_TEST_S3_ENDPOINT is not set)",
    require_var: "ATTEST_TEST_REQUIRE_S3",
    how: "start one on loopback (scripts/test runs moto's server from PyPI) and set ATTEST_TEST_S3_ENDPOINT=http://127.0.0.1:PORT",
};

/// The extraction models the tests on real documents load.
pub const MODELS: Need = Need {
    what: "the extraction models (ATTEST_MODELS_DIR is unset or has no models)",
    require_var: "ATTEST_TEST_REQUIRE_MODELS",
    how: "run scripts/models and set ATTEST_MODELS_DIR to its directory (default ~/.cache/attest/models)",
};

/// libheif's encoder, to make the HEIC a decoding test reads.
pub const HEIF_ENC: Need =
    Need { what: "the heif-enc command", require_var: "ATTEST_TEST_REQUIRE_TOOLS", how: "apt-get install libheif-examples (scripts/test installs it)" };

/// util-linux's prlimit, which puts the CPU and file-size limits on document tools.
pub const PRLIMIT: Need = Need { what: "the prlimit command", require_var: "ATTEST_TEST_REQUIRE_TOOLS", how: "apt-get install util-linux" };

/// What a test does about a dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It is there: run.
    Run,
    /// Missing, and allowed to be: skip, saying so.
    Skip,
    /// Missing, and required: fail, with the reason it is required.
    Fail(String),
}

/// The decision for a dependency that is (or is not) `present`, given the values of
/// `CI` and of the dependency's `ATTEST_TEST_REQUIRE_*` variable (`None`: unset).
/// `Err` when the variable holds something else than `1` or `0`.
pub fn decide(require_var: &str, require: Option<&str>, ci: Option<&str>, present: bool) -> Result<Decision, String> {
    let required = match require {
        Some("1") => Some(true),
        Some("0") => Some(false),
        None => None,
        Some(other) => return Err(format!("{require_var}={other:?} is neither 1 (required) nor 0 (may be skipped); unset it or use one of those")),
    };
    if present {
        return Ok(Decision::Run);
    }
    let under_ci = ci.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
    Ok(match required {
        Some(true) => Decision::Fail(format!("{require_var}=1")),
        Some(false) => Decision::Skip,
        None if under_ci => Decision::Fail(format!("CI is set (set {require_var}=0 to allow skipping)")),
        None => Decision::Skip,
    })
}

/// Whether the test may go on: `true` when `present`; `false` when it is to be skipped
/// (after saying so on stderr); panics when the dependency is required or the
/// `ATTEST_TEST_REQUIRE_*` variable is malformed. `test` names the test (or the part of
/// it) that is skipped.
pub fn check(need: &Need, present: bool, test: &str) -> bool {
    let require = std::env::var(need.require_var).ok();
    let ci = std::env::var("CI").ok();
    act(need, decide(need.require_var, require.as_deref(), ci.as_deref(), present), test)
}

fn act(need: &Need, decision: Result<Decision, String>, test: &str) -> bool {
    match decision {
        Ok(Decision::Run) => true,
        Ok(Decision::Skip) => {
            // Straight to the process's stderr: `eprintln!` would be captured by the
            // harness and shown only for a failure, and a skip passes.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: it needs {}; to run it, {}. (It passes as \"ok\" without running; set {}=1 to make this a failure.)",
                need.what,
                need.how,
                need.require_var
            );
            false
        }
        Ok(Decision::Fail(because)) => panic!("{test} needs {}, which is missing, and it is required ({because}); to provide it, {}", need.what, need.how),
        Err(message) => panic!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VAR: &str = "ATTEST_TEST_REQUIRE_X";

    fn fails(d: Result<Decision, String>) -> bool {
        matches!(d, Ok(Decision::Fail(_)))
    }

    #[test]
    fn a_present_dependency_runs_whatever_is_required() {
        for ci in [None, Some("true")] {
            for require in [None, Some("1"), Some("0")] {
                assert_eq!(decide(VAR, require, ci, true), Ok(Decision::Run), "CI={ci:?} require={require:?}");
            }
        }
    }

    #[test]
    fn missing_on_a_developers_machine_is_skipped() {
        assert_eq!(decide(VAR, None, None, false), Ok(Decision::Skip));
        assert_eq!(decide(VAR, Some("0"), None, false), Ok(Decision::Skip));
        for not_ci in ["", "0", "false", "FALSE"] {
            assert_eq!(decide(VAR, None, Some(not_ci), false), Ok(Decision::Skip), "CI={not_ci:?} is not CI");
        }
    }

    #[test]
    fn missing_when_required_or_under_ci_fails() {
        assert!(fails(decide(VAR, Some("1"), None, false)));
        assert!(fails(decide(VAR, Some("1"), Some("true"), false)));
        for ci in ["true", "1", "yes", "github"] {
            assert!(fails(decide(VAR, None, Some(ci), false)), "CI={ci:?}");
        }
        let Ok(Decision::Fail(because)) = decide(VAR, None, Some("true"), false) else { unreachable!() };
        assert!(because.contains("CI") && because.contains(VAR), "the reason says why and how to opt out: {because}");
    }

    #[test]
    fn zero_allows_skipping_under_ci() {
        assert_eq!(decide(VAR, Some("0"), Some("true"), false), Ok(Decision::Skip));
    }

    #[test]
    fn any_other_value_is_an_error_not_required() {
        for bad in ["", "true", "yes", "2", " 1", "on", "false"] {
            for present in [true, false] {
                let decided = decide(VAR, Some(bad), None, present);
                assert!(decided.as_ref().is_err_and(|e| e.contains(VAR)), "{VAR}={bad:?} (present: {present}): {decided:?}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "needs the prlimit command, which is missing, and it is required")]
    fn a_required_dependency_panics_naming_what_is_missing_and_how_to_provide_it() {
        act(&PRLIMIT, decide(PRLIMIT.require_var, Some("1"), None, false), "this test");
    }

    #[test]
    fn a_skip_or_a_run_lets_the_caller_decide() {
        assert!(act(&MODELS, decide(MODELS.require_var, None, None, true), "this test"));
        assert!(!act(&MODELS, decide(MODELS.require_var, None, None, false), "this test"), "skipped (and said so on stderr)");
    }

    #[test]
    #[should_panic(expected = "ATTEST_TEST_REQUIRE_POSTGRES=\"yes\" is neither 1")]
    fn a_malformed_requirement_panics_even_when_the_dependency_is_there() {
        act(&POSTGRES, decide(POSTGRES.require_var, Some("yes"), None, true), "this test");
    }
}
