//! The wasm OCI artifact: the manifest and config `wasmgate push` writes for a component, and the
//! check a pulled manifest passes before its layer is fetched.
//!
//! Layout and media types: the CNCF TAG Runtime wasm working group's Wasm OCI Artifact layout
//! (<https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/>), as `wkg oci push`
//! writes it.

use super::OciError;
use oci_spec::image::{Descriptor, Digest, ImageManifest, MediaType};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::str::FromStr;

/// Media type of the manifest (the OCI image manifest).
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the config blob of a wasm artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// Media type of the component layer.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The layer media type of the older `wasm-to-oci` layout, still taken on a pull.
pub const LEGACY_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";

/// A component ready to push: its config and manifest, with their bytes and digests.
#[derive(Debug)]
pub struct Packed {
    /// The config blob (JSON).
    pub config: Vec<u8>,
    /// `sha256:HEX` of [`config`](Self::config).
    pub config_digest: String,
    /// `sha256:HEX` of the component (the layer).
    pub layer_digest: String,
    /// The manifest (JSON), as it is pushed and hashed.
    pub manifest: Vec<u8>,
    /// `sha256:HEX` of [`manifest`](Self::manifest): what `oci://...@DIGEST` pins.
    pub manifest_digest: String,
}

/// The config of a wasm artifact (`application/vnd.wasm.config.v0+json`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig<'a> {
    /// RFC 3339 time of the push.
    created: String,
    /// Always `wasm`.
    architecture: &'static str,
    /// `wasip2` for a component.
    os: &'static str,
    /// The digests of the layers, in order.
    layer_digests: [&'a str; 1],
    /// What the component imports and exports.
    component: ComponentConfig<'a>,
}

#[derive(Serialize)]
struct ComponentConfig<'a> {
    exports: &'a [String],
    imports: &'a [String],
    target: Option<&'a str>,
}

/// `sha256:HEX` of `bytes`, the digest form of the distribution spec.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Packs `component` (its imports and exports as read from it) into a config and a manifest.
///
/// # Errors
/// Only if serialising fails, which the types rule out; kept as an error rather than a panic.
pub fn pack(
    component: &[u8],
    imports: &[String],
    exports: &[String],
    created: chrono::DateTime<chrono::Utc>,
) -> Result<Packed, String> {
    let layer_digest = sha256(component);
    let config = serde_json::to_vec(&WasmConfig {
        created: created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        architecture: "wasm",
        os: "wasip2",
        layer_digests: [&layer_digest],
        component: ComponentConfig {
            exports,
            imports,
            target: None,
        },
    })
    .map_err(|e| e.to_string())?;
    let config_digest = sha256(&config);
    let descriptor = |media: &str, size: usize, digest: &str| -> Result<Descriptor, String> {
        let digest = Digest::from_str(digest).map_err(|e| e.to_string())?;
        Ok(Descriptor::new(MediaType::from(media), size as u64, digest))
    };
    let manifest = oci_spec::image::ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::from(CONFIG_MEDIA_TYPE))
        .config(descriptor(CONFIG_MEDIA_TYPE, config.len(), &config_digest)?)
        .layers(vec![descriptor(
            LAYER_MEDIA_TYPE,
            component.len(),
            &layer_digest,
        )?])
        .build()
        .map_err(|e| e.to_string())?;
    let manifest = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
    let manifest_digest = sha256(&manifest);
    Ok(Packed {
        config,
        config_digest,
        layer_digest,
        manifest,
        manifest_digest,
    })
}

/// The component's layer of a pulled manifest: exactly one layer, of a wasm media type, with a
/// `sha256` digest.
///
/// # Errors
/// [`OciError::NotWasm`] naming what the manifest holds instead (an image index, a container
/// image, a Spin application's several layers).
pub fn component_layer(reference: &str, manifest: &[u8]) -> Result<Descriptor, OciError> {
    let not_wasm = |reason: String| OciError::NotWasm {
        reference: reference.to_owned(),
        reason,
    };
    let value: serde_json::Value = serde_json::from_slice(manifest)
        .map_err(|e| not_wasm(format!("its manifest is not JSON ({e})")))?;
    if value.get("manifests").is_some() {
        return Err(not_wasm(
            "it is an image index (a list of manifests), not one component".into(),
        ));
    }
    let manifest: ImageManifest = serde_json::from_value(value)
        .map_err(|e| not_wasm(format!("its manifest is not an OCI image manifest ({e})")))?;
    let layers = manifest.layers();
    let [layer] = layers.as_slice() else {
        let types: Vec<String> = layers.iter().map(|l| l.media_type().to_string()).collect();
        return Err(not_wasm(format!(
            "it has {} layers ({}), where a component artifact has one `{LAYER_MEDIA_TYPE}` layer",
            layers.len(),
            types.join(", ")
        )));
    };
    let media = layer.media_type().to_string();
    if media != LAYER_MEDIA_TYPE && media != LEGACY_LAYER_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "its layer is `{media}`, not `{LAYER_MEDIA_TYPE}` (config `{}`)",
            manifest.config().media_type()
        )));
    }
    if !layer.digest().to_string().starts_with("sha256:") {
        return Err(not_wasm(format!(
            "its layer's digest {} is not sha256",
            layer.digest()
        )));
    }
    Ok(layer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_component_passes_the_pull_check_and_its_digests_are_of_its_bytes() {
        let component = b"\0asm\x0d\0\x01\0 a component";
        let created = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let packed = pack(component, &["wasi:cli/stdout@0.2.0".into()], &[], created).unwrap();
        assert_eq!(packed.layer_digest, sha256(component));
        assert_eq!(packed.config_digest, sha256(&packed.config));
        assert_eq!(packed.manifest_digest, sha256(&packed.manifest));
        let config: serde_json::Value = serde_json::from_slice(&packed.config).unwrap();
        assert_eq!(config["architecture"], "wasm");
        assert_eq!(config["os"], "wasip2");
        assert_eq!(config["layerDigests"][0], packed.layer_digest.as_str());
        assert_eq!(config["component"]["imports"][0], "wasi:cli/stdout@0.2.0");
        assert_eq!(config["created"], "2023-11-14T22:13:20Z");
        let manifest: serde_json::Value = serde_json::from_slice(&packed.manifest).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(manifest["layers"][0]["mediaType"], LAYER_MEDIA_TYPE);
        assert_eq!(manifest["layers"][0]["size"], component.len());

        let layer = component_layer("r", &packed.manifest).unwrap();
        assert_eq!(layer.digest().to_string(), packed.layer_digest);
        assert_eq!(layer.size(), component.len() as u64);
    }

    #[test]
    fn indexes_images_and_several_layers_are_not_components() {
        let digest = sha256(b"x");
        let layer =
            |media: &str| serde_json::json!({"mediaType": media, "digest": digest, "size": 1});
        let manifest = |layers: Vec<serde_json::Value>| {
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "config": layer("application/vnd.oci.image.config.v1+json"),
                "layers": layers,
            }))
            .unwrap()
        };
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "manifests": [],
        }))
        .unwrap();
        for (bytes, says) in [
            (index, "image index"),
            (b"not json".to_vec(), "not JSON"),
            (
                manifest(vec![layer("application/vnd.oci.image.layer.v1.tar+gzip")]),
                "tar+gzip",
            ),
            (
                manifest(vec![layer(LAYER_MEDIA_TYPE), layer(LAYER_MEDIA_TYPE)]),
                "2 layers",
            ),
            (manifest(vec![]), "0 layers"),
        ] {
            let e = component_layer("oci://r/x:1", &bytes).unwrap_err();
            assert_eq!(e.classify().1, "not_a_wasm_artifact");
            assert!(e.to_string().contains(says), "{e}");
        }
        assert!(component_layer("r", &manifest(vec![layer(LEGACY_LAYER_MEDIA_TYPE)])).is_ok());
    }
}
