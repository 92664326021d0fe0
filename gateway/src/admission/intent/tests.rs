use super::*;
use std::collections::BTreeMap;
use wasmgate_claims::WasmgateClaims;

const NOW: u64 = 1_767_225_600;
const DAY: u64 = 24 * 3600;

fn claims(exp: Option<u64>, aud: Option<&str>, manifest: Option<&[u8]>) -> Claims {
    Claims {
        iss: "issuer".into(),
        sub: "hello".into(),
        iat: NOW,
        nbf: NOW,
        exp,
        aud: aud.map(str::to_owned),
        jti: "j".into(),
        wasmgate: WasmgateClaims {
            hash: "00".into(),
            caps: vec![],
            version: None,
            tags: vec![],
            allowed_hosts: BTreeMap::new(),
            manifest: manifest.map(|m| format!("{:x}", Sha256::digest(m))),
        },
    }
}

fn code(result: Result<(), ApiError>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(e) => e.classify().1,
    }
}

#[test]
fn an_expiry_is_required_and_bounded_by_default() {
    let settings = AdmissionSettings::default();
    let check = |exp| code(check_validity(&claims(exp, None, None), &settings, NOW));
    assert_eq!(check(None), "expiry_required");
    assert_eq!(check(Some(NOW + 90 * DAY)), "ok");
    assert_eq!(check(Some(NOW + 365 * DAY)), "ok");
    assert_eq!(check(Some(NOW + 366 * DAY)), "validity_too_long");
    let lenient = AdmissionSettings {
        allow_no_expiry: true,
        ..AdmissionSettings::default()
    };
    assert_eq!(
        code(check_validity(&claims(None, None, None), &lenient, NOW)),
        "ok"
    );
}

#[test]
fn a_future_iat_does_not_stretch_the_validity() {
    let settings = AdmissionSettings::default();
    let mut future = claims(Some(NOW + 400 * DAY), None, None);
    future.iat = NOW + 100 * DAY;
    assert_eq!(
        code(check_validity(&future, &settings, NOW)),
        "validity_too_long"
    );
}

#[test]
fn the_audience_must_be_this_gateways_or_absent_on_both_sides() {
    let open = AdmissionSettings::default();
    let prod = AdmissionSettings {
        audience: Some("prod".into()),
        ..AdmissionSettings::default()
    };
    let check = |aud, settings| code(check_audience(&claims(None, aud, None), settings));
    assert_eq!(check(None, &open), "ok");
    assert_eq!(check(Some("prod"), &open), "audience_mismatch");
    assert_eq!(check(Some("prod"), &prod), "ok");
    assert_eq!(check(Some("staging"), &prod), "audience_mismatch");
    assert_eq!(check(None, &prod), "audience_mismatch");
}

#[test]
fn a_signed_manifest_must_arrive_byte_for_byte() {
    let text = b"[[triggers]]\nsubject = \"orders.>\"\n";
    let manifest = Manifest::from_toml(std::str::from_utf8(text).unwrap()).unwrap();
    let signed = claims(None, None, Some(text));
    assert_eq!(code(check_manifest(&signed, Some(text), &manifest)), "ok");
    let changed = b"[[triggers]]\nsubject = \">\"\n";
    assert_eq!(
        code(check_manifest(&signed, Some(changed), &manifest)),
        "manifest_mismatch"
    );
    assert_eq!(
        code(check_manifest(&signed, None, &Manifest::default())),
        "manifest_mismatch"
    );
}

#[test]
fn an_unsigned_manifest_holds_only_tuning() {
    let unsigned = claims(None, None, None);
    let tuning = Manifest::from_toml(
        "[scale]\nmax_instances = 2\nreuse = false\nreuse_max_uses = 5\n[limits]\ntimeout = \"5s\"\n[config]\ngreeting = \"hi\"\n",
    )
    .unwrap();
    assert_eq!(code(check_manifest(&unsigned, None, &tuning)), "ok");
    let widening = Manifest::from_toml(
        "[[triggers]]\nsubject = \">\"\n[[schedules]]\ncron = \"0 * * * *\"\nmessage = true\n[keyvalue]\nshared = [\"b\"]\n[http]\nroutes = [\"/api/{*rest}\"]\n[messaging]\npublish = [\"orders.>\"]\n[scale]\nreuse = true\n[config]\nkey = { env = \"APP_KEY\" }\n",
    )
    .unwrap();
    assert_eq!(
        widening_keys(&widening),
        [
            "triggers",
            "schedules",
            "keyvalue.shared",
            "http.routes",
            "messaging.publish",
            "scale.reuse",
            "config.key"
        ]
    );
    assert_eq!(
        code(check_manifest(&unsigned, None, &widening)),
        "manifest_unsigned"
    );
}
