//! The administrative commands of the binary: `user add/list/totp`, `host-token --user`,
//! `host-token list/revoke`, `audit export`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::TestResult;

const BIN: &str = env!("CARGO_BIN_EXE_deskbeam-server");

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    TempDir(std::env::temp_dir().join(format!(
        "deskbeam-cli-admin-{}",
        uuid::Uuid::new_v4().simple()
    )))
}

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> TestResult<Output> {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or("").as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PASSWORD: &str = "a long enough password";

#[test]
fn user_add_reads_the_password_from_stdin() -> TestResult {
    let dir = temp_dir();
    let out = run(
        &dir.0,
        &["user", "add", "alice"],
        Some(&format!("{PASSWORD}\nignored\n")),
    )?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains(PASSWORD) && !text(&out.stdout).contains(PASSWORD));
    let state = deskbeam_server::AppState::open(&dir.0, "http://a.test")?;
    let user = state
        .store()
        .get_user_by_name("alice")?
        .ok_or("not created")?;
    assert!(deskbeam_server::secrets::verify_secret(
        PASSWORD,
        &user.password_hash
    ));
    assert!(!deskbeam_server::secrets::verify_secret(
        "ignored",
        &user.password_hash
    ));
    drop(state);
    let again = run(
        &dir.0,
        &["user", "add", "alice"],
        Some(&format!("{PASSWORD}\n")),
    )?;
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    let short = run(&dir.0, &["user", "add", "bob"], Some("short\n"))?;
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("at least 10"),
        "{}",
        text(&short.stderr)
    );
    let list = run(&dir.0, &["user", "list"], None)?;
    let listed = text(&list.stdout);
    assert!(
        listed.starts_with("alice\t") && !listed.contains("bob"),
        "{listed}"
    );
    let totp = run(&dir.0, &["user", "totp", "alice"], None)?;
    assert!(text(&totp.stdout).starts_with("otpauth://totp/Deskbeam:alice?secret="));
    Ok(())
}

#[test]
fn host_tokens_bind_list_and_revoke() -> TestResult {
    let dir = temp_dir();
    run(
        &dir.0,
        &["user", "add", "alice"],
        Some(&format!("{PASSWORD}\n")),
    )?;
    let out = run(
        &dir.0,
        &["host-token", "--user", "alice", "--name", "pc"],
        None,
    )?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "only the token");
    let token = stdout.trim_end().to_string();
    let nobody = run(&dir.0, &["host-token", "--user", "nobody"], None)?;
    assert!(!nobody.status.success());
    let list = text(&run(&dir.0, &["host-token", "list"], None)?.stdout);
    let row: Vec<&str> = list.lines().next().ok_or("no row")?.split('\t').collect();
    assert_eq!(
        (row[2], row[3], row[5]),
        ("pc", "alice", "active"),
        "{list}"
    );
    assert!(!list.contains(&token));
    let jti = row[0].to_string();
    let revoked = run(&dir.0, &["host-token", "revoke", &jti], None)?;
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let list = text(&run(&dir.0, &["host-token", "list"], None)?.stdout);
    assert!(list.contains("revoked"), "{list}");
    let unknown = run(&dir.0, &["host-token", "revoke", "nope"], None)?;
    assert!(!unknown.status.success());

    let export = run(&dir.0, &["audit", "export"], None)?;
    assert!(export.status.success(), "{}", text(&export.stderr));
    let lines: Vec<serde_json::Value> = text(&export.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let kinds: Vec<&str> = lines.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["host_enrolled", "host_token_revoked"]);
    assert!(!text(&export.stdout).contains(&token) && !text(&export.stdout).contains(PASSWORD));
    Ok(())
}

#[test]
fn host_token_count_enrols_that_many_hosts() -> TestResult {
    let dir = temp_dir();
    let out = run(
        &dir.0,
        &["host-token", "--count", "3", "--name", "load"],
        None,
    )?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tokens: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    let state = deskbeam_server::AppState::open(&dir.0, "http://a.test")?;
    let mut hosts: Vec<String> = Vec::new();
    for token in &tokens {
        hosts.push(state.keys().verify_host(token)?.sub);
    }
    hosts.sort();
    hosts.dedup();
    assert_eq!(hosts.len(), 3, "each token opens its own host");
    let mut names: Vec<String> = state
        .store()
        .list_hosts()?
        .into_iter()
        .map(|h| h.name)
        .collect();
    names.sort();
    assert_eq!(names, ["load-1", "load-2", "load-3"]);
    for bad in ["0", "10001"] {
        let out = run(&dir.0, &["host-token", "--count", bad], None)?;
        assert!(!out.status.success(), "--count {bad} must fail");
        assert!(
            text(&out.stderr).contains("--count"),
            "{}",
            text(&out.stderr)
        );
    }
    Ok(())
}
