use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};

async fn probes_answer(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"), "every response carries a request id");
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["status"], "ok");

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["database"], "ok");

    app.db.close().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness follows the database");
}
both_engines!(probes_answer);

/// Raw bytes on the wire (reqwest refuses to send control characters in a header).
async fn raw_request_id(app: &TestApp, value: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let mut request = b"GET /healthz HTTP/1.1\r\nhost: attest.test\r\nconnection: close\r\nx-request-id: ".to_vec();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n\r\n");
    socket.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// A client's `x-request-id` goes into every log line and back out in the response: only
/// a well-formed one is kept, anything else is replaced by one of ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_request_ids_are_replaced_before_they_reach_logs() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let echoed = app.client.get(app.url("/healthz")).header("x-request-id", "client-42.retry_1").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-42.retry_1", "a well-formed id is kept");
    for value in ["x".repeat(500), "a b".into(), "{\"level\":\"error\"}".into(), "abc\tdef".into()] {
        let response = app.client.get(app.url("/healthz")).header("x-request-id", &value).send().await.unwrap();
        let ids: Vec<_> = response.headers().get_all("x-request-id").iter().collect();
        assert_eq!(ids.len(), 1);
        assert!(ids[0].to_str().unwrap().starts_with("req_"), "{value:?} became {:?}", ids[0]);
    }
    let twice = app.client.get(app.url("/healthz")).header("x-request-id", "one").header("x-request-id", "two").send().await.unwrap();
    assert!(twice.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
    for value in [b"abc\x7f".as_slice(), b"abc\xff\xfe", b"abc\x01def"] {
        let response = raw_request_id(&app, value).await;
        let id = response.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap_or("");
        assert!(!response.contains("abc"), "{response}");
        assert!(id.starts_with("req_") || response.starts_with("HTTP/1.1 400"), "{value:?}: {response}");
    }
}
