//! `paperscope mcp` as a desktop assistant runs it: a child process on stdin/stdout, spoken to
//! by rmcp's own client.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::shared::shared_index;

/// ERBench, the paper every hallucination-benchmark query must find.
const ERBENCH: &str = "2403.05266";

type Client = RunningService<RoleClient, ()>;

/// Starts `paperscope --index <shared> mcp` and connects (initialize) to it.
async fn connect() -> Client {
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_paperscope")).configure(|c| {
        c.env_remove("PAPERSCOPE_INDEX")
            .args(["--index", shared_index(), "mcp"]);
    });
    let transport = TokioChildProcess::new(command).expect("paperscope mcp starts");
    ().serve(transport).await.expect("initialize succeeds")
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object: {arguments}")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: a protocol error instead of a tool answer: {e}"))
}

/// The text of a result's content blocks.
fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

fn result_ids(result: &CallToolResult) -> Vec<String> {
    let structured = result
        .structured_content
        .as_ref()
        .unwrap_or_else(|| panic!("no structured content: {}", text(result)));
    structured["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {structured}"))
        .iter()
        .map(|r| r["arxiv_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_every_tool_with_its_schemas() {
    let client = connect().await;
    let info = client.peer_info().expect("server info after initialize");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("paperscope")
    );
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "digest",
            "get_paper",
            "related",
            "search",
            "stats",
            "topic",
            "topics"
        ]
    );
    let search = tools.iter().find(|t| t.name == "search").expect("search");
    let input = Value::Object(search.input_schema.as_ref().clone());
    assert_eq!(input["required"], json!(["query"]), "{input}");
    assert_eq!(
        input["properties"]["mode"]["enum"],
        json!(["hybrid", "bm25", "vector"])
    );
    for name in ["category", "since", "until", "sort", "limit", "offset"] {
        assert!(input["properties"][name].is_object(), "{name}: {input}");
    }
    let output = Value::Object(
        search
            .output_schema
            .as_ref()
            .expect("output schema")
            .as_ref()
            .clone(),
    );
    let result = &output["$defs"]["SearchResult"]["properties"];
    for field in ["url", "title_en", "title_zh", "summary_zh", "month"] {
        assert!(result[field].is_object(), "{field}: {output}");
    }
    for tool in &tools {
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 40),
            "{} has no description",
            tool.name
        );
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
    }
    client.cancel().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_erbench_with_what_an_assistant_cites() {
    let client = connect().await;
    let result = call(
        &client,
        "search",
        json!({"query": "hallucination benchmark"}),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let ids = result_ids(&result);
    let position = ids.iter().position(|id| id == ERBENCH);
    assert!(
        position.is_some_and(|p| p < 5),
        "ERBench not in the top 5: {ids:?}"
    );
    let structured = result.structured_content.as_ref().expect("structured");
    let erbench = &structured["results"][position.unwrap_or_default()];
    assert_eq!(erbench["url"], format!("https://arxiv.org/abs/{ERBENCH}"));
    assert_eq!(erbench["month"], "2024-03");
    for field in ["title_en", "title_zh", "summary_zh"] {
        assert!(
            erbench[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {erbench}"
        );
    }
    // The text an assistant reads carries the same: URL, both titles, summary, month.
    let shown = text(&result);
    for needle in [
        format!("https://arxiv.org/abs/{ERBENCH}"),
        erbench["title_zh"].as_str().unwrap_or_default().to_string(),
        erbench["summary_zh"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        "2024-03".to_string(),
    ] {
        assert!(shown.contains(&needle), "{needle:?} not in:\n{shown}");
    }
    // Chinese, filtered to a month, the next page.
    let result = call(
        &client,
        "search",
        json!({"query": "幻觉 基准", "since": "2024-03", "until": "2024-03", "limit": 3, "offset": 3}),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let structured = result.structured_content.as_ref().expect("structured");
    assert_eq!(structured["offset"], 3);
    assert!(
        structured["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty()
                && r.len() <= 3
                && r.iter().all(|r| r["month"] == "2024-03")),
        "{structured}"
    );
    client.cancel().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_argument_is_a_tool_error_naming_it_and_the_server_goes_on() {
    let client = connect().await;
    let cases = [
        ("search", json!({"query": "x", "limit": 0}), "`limit`"),
        ("search", json!({"query": "x", "limit": "ten"}), "`limit`"),
        ("search", json!({"query": "x", "mode": "fuzzy"}), "`mode`"),
        ("search", json!({"query": "x", "since": "March"}), "`since`"),
        ("search", json!({"query": "x", "limt": 3}), "`limt`"),
        ("search", json!({"mode": "bm25"}), "`query`"),
        ("related", json!({}), "`ids`"),
        (
            "related",
            json!({"ids": ["2403.05266"], "text": "x"}),
            "`text`",
        ),
        ("related", json!({"ids": "9912.99999"}), "`ids`"),
        ("get_paper", json!({"id": "9912.99999"}), "`id`"),
        ("topic", json!({"id": 9999}), "`id`"),
        ("topics", json!({"level": "medium"}), "`level`"),
        (
            "search",
            json!({"query": "x", "category": "no.such"}),
            "`category`",
        ),
        ("digest", json!({"related": 99}), "`related`"),
        ("stats", json!({"verbose": true}), "`verbose`"),
    ];
    for (tool, arguments, named) in cases {
        let result = call(&client, tool, arguments.clone()).await;
        let text = text(&result);
        assert!(
            is_error(&result),
            "{tool} {arguments}: not an error: {text}"
        );
        assert!(
            text.contains(named),
            "{tool} {arguments}: {named} not named in {text:?}"
        );
    }
    // Still answering after every error.
    let stats = call(&client, "stats", json!({})).await;
    assert!(!is_error(&stats), "{}", text(&stats));
    let papers = stats.structured_content.as_ref().expect("structured")["papers"]
        .as_u64()
        .unwrap_or_default();
    assert!(papers > 1000, "{}", text(&stats));
    client.cancel().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_with_no_match_says_so() {
    let client = connect().await;
    let result = call(
        &client,
        "search",
        json!({"query": "hallucination benchmark", "since": "1999-01", "until": "1999-12"}),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    assert!(result_ids(&result).is_empty());
    assert!(
        text(&result).starts_with("No paper matches"),
        "{}",
        text(&result)
    );
    client.cancel().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread")]
async fn related_paper_topics_and_digest_answer() {
    let client = connect().await;
    let related = call(&client, "related", json!({"ids": [ERBENCH], "limit": 5})).await;
    assert!(!is_error(&related), "{}", text(&related));
    let ids = result_ids(&related);
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(
        !ids.contains(&ERBENCH.to_string()),
        "the seed is no result: {ids:?}"
    );
    assert!(text(&related).contains("ERBench"), "{}", text(&related));
    let like_text = call(
        &client,
        "related",
        json!({"text": "a benchmark of hallucinations in large language models"}),
    )
    .await;
    assert!(!is_error(&like_text) && !result_ids(&like_text).is_empty());

    // Any id form a person pastes.
    for id in [
        "2403.05266",
        "arXiv:2403.05266",
        "https://arxiv.org/abs/2403.05266",
        "https://arxiv.org/pdf/2403.05266",
    ] {
        let paper = call(&client, "get_paper", json!({"id": id})).await;
        assert!(!is_error(&paper), "{id}: {}", text(&paper));
        let structured = paper.structured_content.as_ref().expect("structured");
        assert_eq!(structured["arxiv_id"], ERBENCH, "{id}");
        assert!(text(&paper).contains("2024-03"), "{}", text(&paper));
    }

    let topics = call(&client, "topics", json!({})).await;
    assert!(!is_error(&topics), "{}", text(&topics));
    let listed = topics.structured_content.as_ref().expect("structured")["topics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(listed.len() >= 5, "{}", text(&topics));
    let first = listed[0]["id"].as_u64().expect("topic id");
    let topic = call(&client, "topic", json!({"id": first, "limit": 3})).await;
    assert!(!is_error(&topic), "{}", text(&topic));
    let papers = &topic.structured_content.as_ref().expect("structured")["papers"];
    assert_eq!(papers.as_array().map(Vec::len), Some(3), "{papers}");

    let digest = call(
        &client,
        "digest",
        json!({"query": "hallucination benchmark", "limit": 5, "related": 1}),
    )
    .await;
    assert!(!is_error(&digest), "{}", text(&digest));
    assert!(text(&digest).contains(ERBENCH), "{}", text(&digest));
    let none = call(
        &client,
        "digest",
        json!({"since": "1999-01", "until": "1999-12"}),
    )
    .await;
    assert!(!is_error(&none), "{}", text(&none));
    assert!(
        text(&none).starts_with("No paper matches"),
        "{}",
        text(&none)
    );
    client.cancel().await.expect("closes");
}
