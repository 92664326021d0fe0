use super::*;
use prometheus::{IntCounterVec, Opts};

const ADMIN: &str = "admin-token-0123456789abcdefghijklmnopq";
const METRICS: &str = "metrics-token-0123456789abcdefghijklmn";

fn counter() -> IntCounterVec {
    IntCounterVec::new(Opts::new("failures", "test"), &["audience"]).unwrap()
}

fn access(settings: &Settings) -> (Access, IntCounterVec) {
    let counter = counter();
    let access = Access::new(settings, AuthFailures::new(counter.clone())).unwrap();
    (access, counter)
}

fn configured() -> Settings {
    Settings {
        admin_token: Some(ADMIN.into()),
        metrics_token: Some(METRICS.into()),
        ..Settings::default()
    }
}

fn request(token: Option<&str>) -> Request<()> {
    let mut builder = Request::get("/functions");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(()).unwrap()
}

#[test]
fn the_admin_token_admits_everything_and_the_metrics_token_only_metrics() {
    let (access, failures) = access(&configured());
    assert_eq!(access.origin(), Some(&TokenOrigin::Configured));
    assert!(access.admin(&request(Some(ADMIN))).is_ok());
    assert!(access.metrics(&request(Some(ADMIN))).is_ok());
    assert!(access.metrics(&request(Some(METRICS))).is_ok());
    assert!(access.admin(&request(Some(METRICS))).is_err());
    assert!(access.admin(&request(None)).is_err());
    assert!(access.metrics(&request(Some("nope"))).is_err());
    assert_eq!(failures.with_label_values(&["admin"]).get(), 2);
    assert_eq!(failures.with_label_values(&["metrics"]).get(), 1);
}

#[test]
fn without_a_configured_token_the_generated_one_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: dir.path().to_owned(),
        ..Settings::default()
    };
    let (access, _) = access(&settings);
    let path = dir.path().join(ADMIN_TOKEN_FILE);
    assert_eq!(access.origin(), Some(&TokenOrigin::Generated(path.clone())));
    let token = std::fs::read_to_string(&path).unwrap();
    assert!(access.admin(&request(None)).is_err());
    assert!(access.admin(&request(Some(token.trim()))).is_ok());
    assert!(
        access.metrics(&request(None)).is_err(),
        "metrics are never open by default"
    );
}

#[test]
fn only_insecure_open_admin_opens_the_admin_api() {
    let settings = Settings {
        insecure_open_admin: true,
        ..Settings::default()
    };
    let (access, failures) = access(&settings);
    assert_eq!(access.origin(), None);
    assert!(access.admin(&request(None)).is_ok());
    assert!(access.metrics(&request(None)).is_ok());
    assert_eq!(failures.with_label_values(&["admin"]).get(), 0);
}

#[test]
fn a_function_asking_for_tokens_takes_any_listed_one_or_the_admin_token() {
    let (access, failures) = access(&configured());
    assert!(
        access.invoke(&[], &request(None)).is_ok(),
        "no list: public"
    );
    let digest = |t: &str| TokenDigest::try_from(hex(&bearer::digest(t))).unwrap();
    let listed = [digest("first-caller-token"), digest("second-caller-token")];
    assert!(
        access
            .invoke(&listed, &request(Some("first-caller-token")))
            .is_ok()
    );
    assert!(
        access
            .invoke(&listed, &request(Some("second-caller-token")))
            .is_ok()
    );
    assert!(access.invoke(&listed, &request(Some(ADMIN))).is_ok());
    assert!(access.invoke(&listed, &request(Some(METRICS))).is_err());
    assert!(access.invoke(&listed, &request(None)).is_err());
    assert_eq!(failures.with_label_values(&["invoke"]).get(), 2);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
