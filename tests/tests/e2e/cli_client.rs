//! The client commands through the real binary against a running gateway: `login` and its
//! profile, `call`, `ls`, `rm` and `logs` (with `--follow`), and their `--json` output.

use crate::DEADLINE;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use tokio::io::{AsyncBufReadExt, BufReader};
use wasmgate_claims::SigningKey;
use wasmgate_tests::{Gateway, guests, wasmgate_bin};

/// A client environment of its own: a fresh home holding the XDG config dir (and what a test
/// writes there: keys, bodies, projects), no `WASMGATE_*` or `CARGO_TARGET_DIR` inherited.
/// `cli_deploy` runs its users in one too.
pub(crate) struct Client {
    home: tempfile::TempDir,
}

impl Client {
    pub(crate) fn new() -> Self {
        let client = Client {
            home: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(client.config()).unwrap();
        client
    }

    /// The client's home directory, where commands run unless told otherwise.
    pub(crate) fn home(&self) -> &Path {
        self.home.path()
    }

    /// `XDG_CONFIG_HOME` of its commands.
    fn config(&self) -> PathBuf {
        self.home.path().join("config")
    }

    fn profile(&self) -> PathBuf {
        self.config().join("wasmgate").join("profile.toml")
    }

    /// Writes `key` as a private (0600) PEM file named `file` in the home; its path.
    pub(crate) fn key_file(&self, file: &str, key: &SigningKey) -> PathBuf {
        let path = self.home.path().join(file);
        std::fs::write(&path, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// `wasmgate args`, run in `dir`.
    fn command_in(&self, dir: &Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(wasmgate_bin());
        cmd.args(args)
            .current_dir(dir)
            .env("XDG_CONFIG_HOME", self.config())
            .env_remove("WASMGATE_URL")
            .env_remove("WASMGATE_TOKEN")
            .env_remove("CARGO_TARGET_DIR")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_in(self.home.path(), args)
    }

    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_in(self.home.path(), args, env).await
    }

    /// `wasmgate args` in `dir` with `env` added.
    pub(crate) async fn run_in(
        &self,
        dir: &Path,
        args: &[&str],
        env: &[(&str, impl AsRef<std::ffi::OsStr>)],
    ) -> Output {
        let mut cmd = self.command_in(dir, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().await.unwrap()
    }

    /// `wasmgate login` to `gw` with its admin token and the issuer key file `key`.
    pub(crate) async fn login(&self, gw: &Gateway, key: &Path) {
        let out = self
            .run(&[
                "login",
                &gw.url(""),
                "--token",
                &token(gw),
                "--key",
                key.to_str().unwrap(),
            ])
            .await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn token(gw: &Gateway) -> String {
    gw.admin_token().unwrap().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub(crate) fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

#[tokio::test]
async fn login_saves_a_private_profile_only_after_the_gateway_took_the_token() {
    let gw = Gateway::builder().start().await.unwrap();
    let client = Client::new();
    let url = gw.url("");

    // A wrong token: refused, nothing written.
    let refused = client
        .run(&["login", &url, "--token", "not-the-admin-token"])
        .await;
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr(&refused).contains("refused the token"),
        "{}",
        stderr(&refused)
    );
    assert!(stderr(&refused).contains("nothing was saved"));
    assert!(!client.profile().exists());

    // A URL nobody answers on: refused, saying so.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}")
    };
    let unreachable = client
        .run(&["login", &closed, "--token", &token(&gw)])
        .await;
    assert!(!unreachable.status.success());
    assert!(
        stderr(&unreachable).contains("cannot reach the gateway"),
        "{}",
        stderr(&unreachable)
    );
    assert!(!client.profile().exists());

    // The right token, with a key: saved 0600 in a 0700 directory, the key's path absolute.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("issuer.pem");
    let generated = client
        .run(&["keys", "generate", "--out", key.to_str().unwrap()])
        .await;
    assert!(generated.status.success(), "{generated:?}");
    let saved = client
        .run(&[
            "login",
            &format!("{url}/"),
            "--token",
            &token(&gw),
            "--key",
            key.to_str().unwrap(),
            "--json",
        ])
        .await;
    assert!(saved.status.success(), "{saved:?}");
    let answer = json_of(&saved);
    assert_eq!(answer["url"], url.as_str());
    assert_eq!(answer["functions"], 0);
    assert_eq!(answer["profile"], client.profile().to_str().unwrap());
    assert_eq!(mode(&client.profile()), 0o600);
    assert_eq!(mode(client.profile().parent().unwrap()), 0o700);
    let profile: toml::Value =
        toml::from_str(&std::fs::read_to_string(client.profile()).unwrap()).unwrap();
    assert_eq!(profile["url"].as_str(), Some(url.as_str()));
    assert_eq!(profile["token"].as_str(), Some(token(&gw).as_str()));
    assert_eq!(
        profile["key"].as_str(),
        Some(std::fs::canonicalize(&key).unwrap().to_str().unwrap())
    );

    // `sign` without --key signs with the profile's key.
    let public = stdout(&generated).lines().last().unwrap().to_owned();
    let signed = keys.path().join("hello.wasm");
    let signing = client
        .run(&[
            "sign",
            "--name",
            "hello",
            guests::HTTP_HELLO,
            "-o",
            signed.to_str().unwrap(),
        ])
        .await;
    assert!(signing.status.success(), "{signing:?}");
    let inspected = client
        .run(&[
            "inspect",
            signed.to_str().unwrap(),
            "--trust",
            &public,
            "--json",
        ])
        .await;
    assert_eq!(json_of(&inspected)["verified"], true);

    // A later wrong token changes nothing.
    let before = std::fs::read(client.profile()).unwrap();
    let refused = client.run(&["login", &url, "--token", "wrong"]).await;
    assert!(!refused.status.success());
    assert_eq!(std::fs::read(client.profile()).unwrap(), before);
    // And a key that is not one is refused before anything is asked.
    let not_a_key = keys.path().join("not.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let refused = client
        .run(&[
            "login",
            &url,
            "--token",
            &token(&gw),
            "--key",
            not_a_key.to_str().unwrap(),
        ])
        .await;
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("not an issuer private key"));
    assert_eq!(std::fs::read(client.profile()).unwrap(), before);
}

#[tokio::test]
async fn the_flag_beats_the_variable_which_beats_the_profile() {
    let gw = Gateway::builder().start().await.unwrap();
    let client = Client::new();
    let url = gw.url("");
    // No URL anywhere: the error says how to give one.
    let nowhere = client.run(&["ls"]).await;
    assert!(!nowhere.status.success());
    assert!(
        stderr(&nowhere).contains("wasmgate login"),
        "{}",
        stderr(&nowhere)
    );

    let saved = client.run(&["login", &url, "--token", &token(&gw)]).await;
    assert!(saved.status.success(), "{saved:?}");
    assert!(
        stdout(&saved).contains("logged in to"),
        "{}",
        stdout(&saved)
    );
    // The profile alone is enough.
    assert!(client.run(&["ls"]).await.status.success());
    // A wrong token in the environment beats the profile's...
    let refused = client
        .run_env(&["ls"], &[("WASMGATE_TOKEN", "wrong")])
        .await;
    assert!(!refused.status.success());
    let text = stderr(&refused);
    assert!(text.contains("401 unauthorized"), "{text}");
    assert!(text.contains("wasmgate login"), "{text}");
    // ...and a flag beats the environment.
    let fixed = client
        .run_env(
            &["ls", "--token", &token(&gw)],
            &[("WASMGATE_TOKEN", "wrong")],
        )
        .await;
    assert!(fixed.status.success(), "{fixed:?}");
    // Same for the URL: a dead one in the environment, the right one as a flag.
    let dead = client
        .run_env(&["ls"], &[("WASMGATE_URL", "http://127.0.0.1:1")])
        .await;
    assert!(!dead.status.success());
    assert!(stderr(&dead).contains("127.0.0.1:1"), "{}", stderr(&dead));
    let flagged = client
        .run_env(
            &["ls", "--url", &url],
            &[("WASMGATE_URL", "http://127.0.0.1:1")],
        )
        .await;
    assert!(flagged.status.success(), "{flagged:?}");
}

#[tokio::test]
async fn call_prints_the_body_and_fails_on_an_error_answer() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("echo", guests::HTTP_ECHO).await.unwrap().status(),
        201
    );
    assert_eq!(
        gw.deploy("panics", guests::LIMITS_PANIC)
            .await
            .unwrap()
            .status(),
        201
    );
    let client = Client::new();
    let url = gw.url("");
    // The profile's admin token must never reach a function.
    let saved = client.run(&["login", &url, "--token", &token(&gw)]).await;
    assert!(saved.status.success(), "{saved:?}");

    let body_file = client.home().join("body.txt");
    std::fs::write(&body_file, "from a file").unwrap();
    let called = client
        .run(&[
            "call",
            "echo",
            "/items?limit=5",
            "-X",
            "PUT",
            "-H",
            "x-one: 1",
            "-H",
            "x-two:  two ",
            "-d",
            &format!("@{}", body_file.display()),
        ])
        .await;
    assert!(called.status.success(), "{called:?}");
    let echoed = json_of(&called);
    assert_eq!(echoed["method"], "PUT");
    assert_eq!(echoed["path_with_query"], "/items?limit=5");
    assert_eq!(echoed["body"], "from a file");
    assert_eq!(echoed["headers"]["x-one"], "1");
    assert_eq!(echoed["headers"]["x-two"], "two");
    assert!(echoed["headers"].get("authorization").is_none(), "{echoed}");

    // -d @- reads standard input.
    let mut piped = client
        .command(&["call", "echo", "-d", "@-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = piped.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"from stdin")
        .await
        .unwrap();
    drop(stdin);
    let piped = piped.wait_with_output().await.unwrap();
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(json_of(&piped)["body"], "from stdin");

    // -d alone makes a POST; --json wraps status, headers and body.
    let posted = client
        .run(&["call", "echo", "-d", "text body", "--json"])
        .await;
    assert!(posted.status.success(), "{posted:?}");
    let wrapped = json_of(&posted);
    assert_eq!(wrapped["status"], 200);
    assert_eq!(wrapped["headers"]["content-type"], "application/json");
    let inner: Value = serde_json::from_str(wrapped["body"].as_str().unwrap()).unwrap();
    assert_eq!(inner["method"], "POST");
    assert_eq!(inner["body"], "text body");

    // 404 and 500: non-zero, the gateway's code and message on stderr, nothing on stdout.
    let missing = client.run(&["call", "nope"]).await;
    assert!(!missing.status.success());
    assert!(stdout(&missing).is_empty(), "{}", stdout(&missing));
    let text = stderr(&missing);
    assert!(text.contains("404 function_not_found"), "{text}");
    assert!(text.contains("wasmgate ls"), "{text}");
    let trapped = client.run(&["call", "panics"]).await;
    assert!(!trapped.status.success());
    assert!(
        stderr(&trapped).contains("500 guest_trap"),
        "{}",
        stderr(&trapped)
    );
    let trapped = client.run(&["call", "panics", "--json"]).await;
    assert!(!trapped.status.success());
    assert_eq!(json_of(&trapped)["status"], 500);
}

#[tokio::test]
async fn ls_lists_and_rm_deletes() {
    let gw = Gateway::builder().start().await.unwrap();
    for name in ["beta", "alpha"] {
        assert_eq!(
            gw.deploy(name, guests::HTTP_HELLO).await.unwrap().status(),
            201
        );
    }
    let client = Client::new();
    let url = gw.url("");
    let tok = token(&gw);
    let flags = ["--url", url.as_str(), "--token", tok.as_str()];
    let with = |args: &[&'static str]| -> Vec<String> {
        args.iter()
            .map(|a| (*a).to_owned())
            .chain(flags.iter().map(|f| (*f).to_owned()))
            .collect()
    };
    let run = |args: Vec<String>| {
        let client = &client;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            client.run(&args).await
        }
    };

    let listed = run(with(&["ls"])).await;
    assert!(listed.status.success(), "{listed:?}");
    let rows: Vec<Vec<String>> = stdout(&listed)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..3], ["alpha", "1", "serving"]);
    assert_eq!(rows[1][..3], ["beta", "1", "serving"]);

    let listed = run(with(&["ls", "--json"])).await;
    let listed = json_of(&listed);
    let names: Vec<&str> = listed["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);

    let removed = run(with(&["rm", "alpha"])).await;
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(stdout(&removed), "deleted alpha\n");
    assert_eq!(gw.functions().await.unwrap().len(), 1);
    let again = run(with(&["rm", "alpha", "--json"])).await;
    assert!(!again.status.success());
    assert_eq!(json_of(&again)["error"]["code"], "function_not_found");
    assert!(stderr(&again).contains("404 function_not_found"));

    // Without --purge the gateway says nothing of keys; with it, how many it removed.
    assert_eq!(
        gw.deploy("alpha", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let removed = run(with(&["rm", "alpha", "--json"])).await;
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(json_of(&removed)["purged_keys"], Value::Null);
    let removed = run(with(&["rm", "beta", "--purge", "--json"])).await;
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(json_of(&removed)["name"], "beta");
    assert_eq!(json_of(&removed)["deleted"], true);
    assert_eq!(json_of(&removed)["purged_keys"], 0);
    assert!(stdout(&run(with(&["ls"])).await).is_empty());
}

/// Calls the log guest once with `request_id`.
async fn call_log(gw: &Gateway, request_id: &str) {
    let response = gw
        .client()
        .get(gw.url("/fn/log"))
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn logs_prints_what_a_guest_printed_and_follows_new_lines() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("log", guests::HTTP_LOG).await.unwrap().status(),
        201
    );
    let client = Client::new();
    let url = gw.url("");
    let saved = client.run(&["login", &url, "--token", &token(&gw)]).await;
    assert!(saved.status.success(), "{saved:?}");
    call_log(&gw, "first-call").await;

    // The endpoint: admin only, an event stream.
    let anonymous = reqwest::get(gw.url("/functions/log/logs")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let direct = gw
        .client()
        .get(gw.url("/functions/log/logs"))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    assert_eq!(direct.headers()["content-type"], "text/event-stream");
    let missing = gw
        .client()
        .get(gw.url("/functions/nope/logs"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::error_code(missing).await,
        (404, "function_not_found".to_owned())
    );

    let printed = client.run(&["logs", "log"]).await;
    assert!(printed.status.success(), "{printed:?}");
    let text = stdout(&printed);
    for expected in [
        " first-call stdout line one",
        " first-call stdout line two",
        " first-call stderr to stderr",
        " first-call stderr pieces of one line",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    let lines = client.run(&["logs", "log", "--json"]).await;
    assert!(lines.status.success(), "{lines:?}");
    let events: Vec<Value> = stdout(&lines)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0]["line"], "line one");
    assert_eq!(events[0]["request_id"], "first-call");
    assert_eq!(events[0]["stream"], "stdout");
    assert!(
        chrono::DateTime::parse_from_rfc3339(events[0]["time"].as_str().unwrap()).is_ok(),
        "{}",
        events[0]
    );
    let unknown = client.run(&["logs", "nope"]).await;
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("404 function_not_found"));

    // --follow: the kept lines first, then a line printed after it connected.
    let mut follower = client
        .command(&["logs", "log", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(follower.stdout.take().unwrap()).lines();
    let mut wait_for = async |wanted: &str| {
        tokio::time::timeout(DEADLINE, async {
            while let Some(line) = out.next_line().await.unwrap() {
                if line.contains(wanted) {
                    return line;
                }
            }
            panic!("the follower ended before printing {wanted:?}");
        })
        .await
        .unwrap_or_else(|_| panic!("{wanted:?} not printed within {DEADLINE:?}"))
    };
    wait_for(" first-call stderr pieces of one line").await;
    call_log(&gw, "second-call").await;
    wait_for(" second-call stdout line one").await;
    wait_for(" second-call stderr pieces of one line").await;

    // Deleting the function ends the follower, and a new deploy starts with no lines.
    let deleted = gw
        .client()
        .delete(gw.url("/functions/log"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let ended = tokio::time::timeout(DEADLINE, follower.wait())
        .await
        .expect("the follower ends when the function is deleted")
        .unwrap();
    assert!(ended.success(), "{ended:?}");
    let mut err = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut follower.stderr.take().unwrap(), &mut err)
        .await
        .unwrap();
    assert!(err.contains("deleted"), "{err}");
    assert_eq!(
        gw.deploy("log", guests::HTTP_LOG).await.unwrap().status(),
        201
    );
    let fresh = client.run(&["logs", "log"]).await;
    assert!(fresh.status.success(), "{fresh:?}");
    assert!(stdout(&fresh).is_empty(), "{}", stdout(&fresh));
}
