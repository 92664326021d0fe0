use super::*;

const ENGINE: &str = "e1";
const ORIGINAL: &str = "sha256:0123";

/// An artifact of `bytes` as `key` would publish it for `ENGINE` and `ORIGINAL`.
fn signed(key: &SigningKey, bytes: &[u8]) -> SharedArtifact {
    let digest = Digest::of(bytes).to_string();
    SharedArtifact {
        bytes: bytes.to_vec(),
        metadata: HashMap::from([
            (META_NODE.to_owned(), "wasmgate-0".to_owned()),
            (META_NODE_KEY.to_owned(), key.issuer().to_string()),
            (META_SHA256.to_owned(), digest.clone()),
            (
                META_SIGNATURE.to_owned(),
                key.sign_detached(&signed_message(ENGINE, ORIGINAL, &digest)),
            ),
        ]),
    }
}

#[test]
fn an_artifact_signed_by_a_trusted_node_for_this_engine_and_original_passes() {
    let key = SigningKey::generate();
    let shared = signed(&key, b"precompiled");
    assert_eq!(check(&shared, &[key.issuer()], ENGINE, ORIGINAL), Ok(()));
}

#[test]
fn a_key_not_in_trusted_nodes_is_refused_even_with_a_valid_signature() {
    let key = SigningKey::generate();
    let shared = signed(&key, b"precompiled");
    let other = SigningKey::generate();
    assert!(matches!(
        check(&shared, &[other.issuer()], ENGINE, ORIGINAL),
        Err(Refusal::Untrusted(k)) if k == key.issuer().to_string()
    ));
    assert!(matches!(
        check(&shared, &[], ENGINE, ORIGINAL),
        Err(Refusal::Untrusted(_))
    ));
}

#[test]
fn a_signature_never_vouches_for_another_engine_or_another_original() {
    let key = SigningKey::generate();
    let shared = signed(&key, b"precompiled");
    assert_eq!(
        check(&shared, &[key.issuer()], "e2", ORIGINAL),
        Err(Refusal::BadSignature)
    );
    assert_eq!(
        check(&shared, &[key.issuer()], ENGINE, "sha256:4567"),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn tampered_bytes_or_a_changed_digest_are_refused() {
    let key = SigningKey::generate();
    let mut tampered = signed(&key, b"precompiled");
    tampered.bytes = b"precompileD".to_vec();
    assert!(matches!(
        check(&tampered, &[key.issuer()], ENGINE, ORIGINAL),
        Err(Refusal::DigestMismatch { .. })
    ));
    // Naming the tampered bytes' digest breaks the signature instead.
    let mut renamed = tampered.clone();
    renamed.metadata.insert(
        META_SHA256.to_owned(),
        Digest::of(&renamed.bytes).to_string(),
    );
    assert_eq!(
        check(&renamed, &[key.issuer()], ENGINE, ORIGINAL),
        Err(Refusal::BadSignature)
    );
    // A signature by a trusted key over the right digest, moved onto another artifact's
    // metadata from an untrusted signer, is still that untrusted signer's claim.
    let intruder = SigningKey::generate();
    let mut forged = signed(&intruder, b"evil");
    forged
        .metadata
        .insert(META_NODE_KEY.to_owned(), key.issuer().to_string());
    assert_eq!(
        check(&forged, &[key.issuer()], ENGINE, ORIGINAL),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn missing_or_unreadable_metadata_is_malformed() {
    let key = SigningKey::generate();
    for missing in [META_NODE_KEY, META_SHA256, META_SIGNATURE] {
        let mut shared = signed(&key, b"precompiled");
        shared.metadata.remove(missing);
        assert!(
            matches!(
                check(&shared, &[key.issuer()], ENGINE, ORIGINAL),
                Err(Refusal::Malformed(m)) if m.contains(missing)
            ),
            "{missing}"
        );
    }
    let mut shared = signed(&key, b"precompiled");
    shared
        .metadata
        .insert(META_NODE_KEY.to_owned(), "not a key".to_owned());
    assert!(matches!(
        check(&shared, &[key.issuer()], ENGINE, ORIGINAL),
        Err(Refusal::Malformed(_))
    ));
}

#[test]
fn settings_with_an_unreadable_or_invalid_node_key_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = ClusterSettings {
        node_key: Some(dir.path().join("absent.pem")),
        ..ClusterSettings::default()
    };
    let error = ArtifactSharing::from_settings(&missing)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("cluster.node_key") && error.contains("cannot be read"),
        "{error}"
    );
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let invalid = ClusterSettings {
        node_key: Some(garbage),
        ..ClusterSettings::default()
    };
    let error = ArtifactSharing::from_settings(&invalid)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("cluster.node_key") && error.contains("keys generate"),
        "{error}"
    );
    let key = SigningKey::generate();
    let good = dir.path().join("node.pem");
    std::fs::write(&good, key.to_pkcs8_pem().unwrap().as_str()).unwrap();
    let sharing = ArtifactSharing::from_settings(&ClusterSettings {
        node_key: Some(good),
        trusted_nodes: vec![key.issuer().to_string()],
        ..ClusterSettings::default()
    })
    .unwrap();
    assert_eq!(sharing.public_key(), Some(key.issuer()));
    assert!(sharing.adopts());
    assert!(
        !ArtifactSharing::from_settings(&ClusterSettings::default())
            .unwrap()
            .adopts()
    );
}
