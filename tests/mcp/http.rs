//! `/mcp` on a real `paperscope serve`: the Streamable HTTP transport, spoken JSON-RPC by hand
//! with a plain HTTP client, as a remote assistant's client would.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Served;

/// POSTs one JSON-RPC message to `/mcp`; returns the status and the JSON answer (if any).
fn post(url: &str, message: &Value) -> (u16, Option<Value>) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build();
    let response = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("Accept", "application/json, text/event-stream")
        .set("MCP-Protocol-Version", "2025-06-18")
        .send_string(&message.to_string());
    let response = match response {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("POST {url}: {error}"),
    };
    let status = response.status();
    let body = response.into_string().expect("a UTF-8 body");
    let answer = (!body.trim().is_empty())
        .then(|| serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")));
    (status, answer)
}

#[test]
fn serve_answers_initialize_tools_list_and_a_call_at_mcp() {
    let server = Served::start();
    let url = format!("{}/mcp", server.url);
    let (status, answer) = post(
        &url,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "paperscope-test", "version": "1"}
        }}),
    );
    let answer = answer.expect("an initialize answer");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["result"]["serverInfo"]["name"], "paperscope",
        "{answer}"
    );
    assert!(
        answer["result"]["capabilities"]["tools"].is_object(),
        "{answer}"
    );
    let (status, _) = post(
        &url,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    assert!(status == 202 || status == 200, "initialized: {status}");

    let (status, answer) = post(
        &url,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    let answer = answer.expect("a tools/list answer");
    assert_eq!(status, 200, "{answer}");
    let names: Vec<&str> = answer["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    assert!(
        names.contains(&"search") && names.contains(&"related"),
        "{names:?}"
    );

    let (status, answer) = post(
        &url,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "search", "arguments": {"query": "hallucination benchmark", "limit": 5}
        }}),
    );
    let answer = answer.expect("a tools/call answer");
    assert_eq!(status, 200, "{answer}");
    let result = &answer["result"];
    assert_ne!(result["isError"], true, "{answer}");
    let ids: Vec<&str> = result["structuredContent"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["arxiv_id"].as_str())
        .collect();
    assert!(ids.contains(&"2403.05266"), "{ids:?}");

    // A bad argument over HTTP is the same tool error, and the HTTP API still answers.
    let (_, answer) = post(
        &url,
        &json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "search", "arguments": {"query": "x", "sort": "oldest"}
        }}),
    );
    let answer = answer.expect("an answer");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("`sort`")),
        "{answer}"
    );
    let health = ureq::get(&format!("{}/api/health", server.url))
        .call()
        .expect("health answers");
    assert_eq!(health.status(), 200);
}
