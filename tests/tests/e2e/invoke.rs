use crate::error_code;
use serde_json::Value;
use wasmgate_tests::{Gateway, guests};

crate::covers!(http_stream, http_wstd);

#[tokio::test]
async fn the_guest_sees_method_path_query_headers_and_body_after_the_prefix() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("echo", guests::HTTP_ECHO).await.unwrap();
    let body = "x".repeat(300_000);
    let echoed: Value = gw
        .client()
        .post(gw.url("/fn/echo/a/b?x=1&y=two"))
        .header("x-custom", "value-1")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path_with_query"], "/a/b?x=1&y=two");
    assert_eq!(echoed["headers"]["x-custom"], "value-1");
    assert_eq!(echoed["body"].as_str().unwrap().len(), body.len());

    let root: Value = gw
        .client()
        .delete(gw.url("/fn/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root["method"], "DELETE");
    assert_eq!(root["path_with_query"], "/");
}

#[tokio::test]
async fn manifest_routes_invoke_the_function_with_the_full_path() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw
        .deploy_with_manifest(
            "echo",
            guests::HTTP_ECHO,
            "[http]\nroutes = [\"/api/{*rest}\", \"/exact\"]",
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let echoed: Value = gw
        .client()
        .put(gw.url("/api/v1/items?q=z"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echoed["path_with_query"], "/api/v1/items?q=z");
    assert_eq!(echoed["method"], "PUT");
    let exact: Value = gw.get_json("/exact").await.unwrap();
    assert_eq!(exact["path_with_query"], "/exact");
    let miss = gw.client().get(gw.url("/exact/more")).send().await.unwrap();
    assert_eq!(error_code(miss).await, (404, "not_found".into()));
}

#[tokio::test]
async fn streamed_responses_arrive_chunk_by_chunk_and_whole() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("stream", guests::HTTP_STREAM).await.unwrap();
    let mut response = gw
        .client()
        .get(gw.url("/fn/stream?chunks=50"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    let mut pieces = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        pieces += 1;
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let expected: String = (0..50).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(text, expected);
    assert!(
        pieces > 1,
        "the body should stream in several pieces, got {pieces}"
    );
}

#[tokio::test]
async fn a_wstd_component_deploys_and_answers() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("wstd", guests::HTTP_WSTD).await.unwrap().status(),
        201
    );
    let text = gw.get_text("/fn/wstd").await.unwrap();
    assert_eq!(text, "hello from wstd\n");
}

#[tokio::test]
async fn unknown_functions_and_paths_are_404_with_their_codes() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw
        .client()
        .get(gw.url("/fn/nobody/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response).await,
        (404, "function_not_found".into())
    );
    let response = gw.client().get(gw.url("/nowhere")).send().await.unwrap();
    assert_eq!(error_code(response).await, (404, "not_found".into()));
}
