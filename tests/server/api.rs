//! Every endpoint's answer, every bad parameter, and the live switch to a new generation.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{
    Server, get, get_json, ids, paperscope, raw_status, run_ok, shared_index, shared_server,
};

const ERBENCH: &str = "2403.05266";

#[test]
fn bm25_search_finds_erbench_near_the_top() {
    let response = get_json("/api/search?q=hallucination+benchmark&mode=bm25&limit=10");
    assert_eq!(response["mode"], "bm25");
    let found = ids(&response);
    let at = found.iter().position(|id| id == ERBENCH);
    assert!(at.is_some_and(|at| at < 5), "{found:?}");
    for (i, r) in response["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["rank"], i + 1);
        let snippet = r["snippet"].as_str().unwrap();
        for h in r["highlights"].as_array().unwrap() {
            assert!(h[1].as_u64().unwrap() as usize <= snippet.len());
        }
    }
}

#[test]
fn hybrid_is_the_default_and_finds_erbench() {
    let response = get_json("/api/search?q=hallucination%20benchmark");
    assert_eq!(response["mode"], "hybrid");
    assert_eq!(response["results"].as_array().unwrap().len(), 10);
    assert!(ids(&response).contains(&ERBENCH.to_string()));
}

#[test]
fn chinese_query_finds_papers_about_it() {
    let response = get_json("/api/search?q=%E5%B9%BB%E8%A7%89&mode=bm25&limit=5");
    let results = response["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let text = format!("{} {} {}", r["title_zh"], r["summary_zh"], r["snippet"]);
        assert!(
            text.contains("幻觉") || text.to_lowercase().contains("hallucinat"),
            "{text}"
        );
    }
}

/// The API answers the CLI's `--json` document: same fields, same results.
#[test]
fn search_json_is_the_cli_json() {
    let api = get_json("/api/search?q=retrieval+augmented+generation&mode=bm25&limit=7");
    let output = run_ok(&[
        "--json",
        "--index",
        shared_index(),
        "search",
        "retrieval augmented generation",
        "--mode",
        "bm25",
        "-n",
        "7",
    ]);
    let cli: Value = serde_json::from_slice(&output.stdout).expect("CLI JSON");
    let keys = |v: &Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&api), keys(&cli));
    assert_eq!(keys(&api["results"][0]), keys(&cli["results"][0]));
    assert_eq!(ids(&api), ids(&cli));
    assert_eq!(api["results"][0]["snippet"], cli["results"][0]["snippet"]);
}

#[test]
fn paging_and_filters() {
    let all = ids(&get_json("/api/search?q=language+model&mode=bm25&limit=10"));
    let second = get_json("/api/search?q=language+model&mode=bm25&limit=5&offset=5");
    assert_eq!(ids(&second), all[5..].to_vec());
    assert_eq!(second["results"][0]["rank"], 6);
    let dated = get_json(
        "/api/search?q=language+model&since=2024-03&until=2024-03&limit=20&sort=date&alpha=0.5",
    );
    assert_eq!(dated["fusion"], "convex 0.50");
    let results = dated["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|r| r["month"] == "2024-03"),
        "{results:?}"
    );
    let cl = get_json("/api/search?q=translation&category=cs.CL&mode=bm25");
    assert!(!ids(&cl).is_empty());
}

#[test]
fn paper_by_id_and_as_pasted() {
    let paper = get_json(&format!("/api/papers/{ERBENCH}"));
    assert_eq!(paper["arxiv_id"], ERBENCH);
    assert!(paper["title_en"].as_str().unwrap().contains("ERBench"));
    assert!(!paper["abstract_zh"].as_str().unwrap().is_empty());
    let pasted = get_json("/api/papers/arXiv:2403.05266");
    assert_eq!(pasted["arxiv_id"], ERBENCH);
}

#[test]
fn related_to_papers_and_to_text() {
    let response = get_json(&format!("/api/related?ids={ERBENCH}&limit=5"));
    assert_eq!(response["seeds"][0]["arxiv_id"], ERBENCH);
    let found = ids(&response);
    assert_eq!(found.len(), 5);
    assert!(!found.contains(&ERBENCH.to_string()));
    // Each result says why it is related, as the CLI's JSON does.
    let results = response["results"].as_array().unwrap();
    assert!(
        results.iter().all(|r| r["related"]["terms_en"]
            .as_array()
            .is_some_and(|t| !t.is_empty())),
        "{response}"
    );
    let two = get_json(&format!("/api/related?ids={ERBENCH},{}&limit=5", found[0]));
    assert_eq!(two["seeds"].as_array().unwrap().len(), 2);
    assert!(!ids(&two).contains(&found[0]));
    let text = get_json("/api/related?text=benchmarks+for+hallucination+in+large+language+models");
    assert!(text["seeds"].is_null());
    assert_eq!(ids(&text).len(), 10);
}

#[test]
fn topics_cover_every_paper() {
    let stats = get_json("/api/stats");
    let papers = stats["papers"].as_u64().unwrap();
    assert!(papers > 1000);
    let topics = get_json("/api/topics");
    let list = topics["topics"].as_array().unwrap();
    assert!(list.len() >= 5);
    let sizes: u64 = list.iter().map(|t| t["size"].as_u64().unwrap()).sum();
    assert_eq!(sizes, papers);
    assert_eq!(
        topics["assignments"].as_array().unwrap().len() as u64,
        papers
    );
    assert!(
        list.iter()
            .all(|t| !t["label_zh"].as_array().unwrap().is_empty())
    );
    let coarse = get_json("/api/topics?level=coarse");
    assert!(coarse["topics"].as_array().unwrap().len() < list.len());

    let id = list[0]["id"].as_u64().unwrap();
    let one = get_json(&format!("/api/topics/{id}?limit=7"));
    assert_eq!(one["topic"]["id"], id);
    let members: BTreeSet<&str> = topics["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["nearest"] == id)
        .map(|a| a["arxiv_id"].as_str().unwrap())
        .collect();
    let shown = one["papers"].as_array().unwrap();
    assert_eq!(shown.len(), 7);
    assert!(
        shown
            .iter()
            .all(|p| members.contains(p["arxiv_id"].as_str().unwrap()))
    );

    let over_time = get_json("/api/topics/over-time");
    let counted: u64 = over_time
        .as_object()
        .unwrap()
        .values()
        .flat_map(|months| months.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    let dated: u64 = stats["by_month"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(counted, dated);
}

#[test]
fn stats_are_the_cli_stats() {
    let api = get_json("/api/stats");
    let output = run_ok(&["--json", "--index", shared_index(), "stats"]);
    let mut cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    // The CLI also reports the running user's own embedding cache: a machine's, not the
    // index's, and not the server's to show.
    cli.as_object_mut().unwrap().remove("embedding_cache");
    assert_eq!(api, cli);
}

#[test]
fn digest_in_three_formats() {
    let server = shared_server();
    let md = get(&server.url("/api/digest?q=hallucination+benchmark&limit=5&related=0"));
    assert_eq!(md.status, 200, "{}", md.body);
    assert!(md.content_type.starts_with("text/markdown"));
    assert!(md.body.contains(ERBENCH), "{}", md.body);
    let html = get(&server.url("/api/digest?q=hallucination+benchmark&limit=5&format=html"));
    assert!(html.content_type.starts_with("text/html"));
    assert!(html.body.contains("<html") && html.body.contains("ERBench"));
    let json = get(&server.url(
        "/api/digest?by_topic=true&since=2024-03&until=2024-03&category=cs.CL&format=json&related=0",
    ));
    assert_eq!(json.status, 200, "{}", json.body);
    let sections = json.json()["sections"].as_array().unwrap().clone();
    assert!(sections.len() > 1, "one section per topic");
}

#[test]
fn health_says_what_is_served() {
    let health = get_json("/api/health");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["vectors"], true);
    assert!(health["generation"].as_u64().unwrap() >= 1);
    assert_eq!(health["papers"], get_json("/api/stats")["papers"]);
}

/// Every paper is a point, and the topics come out as separate groups: most papers are nearer
/// their own topic's centre than any other's.
#[test]
fn map_separates_topics() {
    let map = get_json("/api/map");
    let points = map["points"].as_array().unwrap();
    assert_eq!(
        points.len() as u64,
        get_json("/api/stats")["papers"].as_u64().unwrap()
    );
    let topics = map["topics"].as_array().unwrap();
    let centre = |id: &Value| {
        let t = topics
            .iter()
            .find(|t| t["id"] == *id)
            .expect("point's topic listed");
        (t["x"].as_f64().unwrap(), t["y"].as_f64().unwrap())
    };
    let mut own_nearest = 0;
    for p in points {
        let (x, y) = (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
        assert!(x.is_finite() && y.is_finite());
        let own = centre(&p["topic"]);
        let d = |c: (f64, f64)| (c.0 - x).hypot(c.1 - y);
        let nearest = topics
            .iter()
            .map(|t| d((t["x"].as_f64().unwrap(), t["y"].as_f64().unwrap())))
            .fold(f64::INFINITY, f64::min);
        if d(own) <= nearest + 1e-9 {
            own_nearest += 1;
        }
    }
    assert!(
        own_nearest * 10 >= points.len() * 9,
        "{own_nearest} of {}",
        points.len()
    );
    assert!(
        topics
            .iter()
            .all(|t| !t["label_zh"].as_str().unwrap().is_empty())
    );
    assert_eq!(map, get_json("/api/map"), "the same map every time");
}

#[test]
fn openapi_lists_every_route() {
    let doc = get_json("/api/openapi.json");
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/api/search",
        "/api/related",
        "/api/papers/{id}",
        "/api/topics",
        "/api/topics/{id}",
        "/api/topics/over-time",
        "/api/stats",
        "/api/digest",
        "/api/health",
        "/api/map",
        "/api/references",
        "/feeds/search.atom",
        "/feeds/topics/{id}.atom",
        "/api/openapi.json",
    ] {
        assert!(
            paths.contains_key(route),
            "{route} missing from {:?}",
            paths.keys()
        );
    }
    // Every parameter the search endpoint takes is documented.
    let documented: BTreeSet<&str> = doc["paths"]["/api/search"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let taken = [
        "q", "mode", "limit", "offset", "sort", "category", "since", "until", "alpha", "feedback",
    ];
    assert_eq!(documented, taken.into_iter().collect());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "SearchResponse",
        "SearchResult",
        "Paper",
        "Map",
        "ErrorBody",
        "TopicsView",
    ] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    // The schema is the type's: every field a search result has is documented.
    let documented = schemas["SearchResult"]["properties"].as_object().unwrap();
    let result = &get_json("/api/search?q=benchmark&mode=bm25&limit=1")["results"][0];
    for field in result.as_object().unwrap().keys() {
        assert!(documented.contains_key(field), "{field} undocumented");
    }
}

/// Every bad request: a 4xx with a JSON error naming the parameter at fault, never a 500.
#[test]
fn bad_parameters_are_400_naming_them() {
    let server = shared_server();
    let long = format!("/api/search?q={}", "a".repeat(20_000));
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("/api/search", 400, Some("q")),
        ("/api/search?q=", 400, Some("q")),
        ("/api/search?q=a&q=b", 400, Some("q")),
        ("/api/search?q=%FF%FE", 400, Some("q")),
        ("/api/search?q=ab%00cd", 400, Some("q")),
        ("/api/related?text=ab%00cd", 400, Some("text")),
        ("/api/search?%FF=1", 400, Some("query string")),
        ("/api/search?q=%%&mode=bm25", 400, Some("q")),
        ("/api/search?q=-", 400, Some("q")),
        ("/api/search?q=x&mode=fast", 400, Some("mode")),
        ("/api/search?q=x&limit=0", 400, Some("limit")),
        ("/api/search?q=x&limit=100000000", 400, Some("limit")),
        (
            "/api/search?q=x&limit=99999999999999999999999999",
            400,
            Some("limit"),
        ),
        ("/api/search?q=x&limit=ten", 400, Some("limit")),
        ("/api/search?q=x&offset=-1", 400, Some("offset")),
        ("/api/search?q=x&since=2024-13", 400, Some("since")),
        (
            "/api/search?q=x&since=2024-05&until=2024-01",
            400,
            Some("since"),
        ),
        ("/api/search?q=x&until=march", 400, Some("until")),
        ("/api/search?q=x&category=xx.NOPE", 400, Some("category")),
        ("/api/search?q=x&alpha=2", 400, Some("alpha")),
        ("/api/search?q=x&alpha=nan", 400, Some("alpha")),
        ("/api/search?q=x&feedback=maybe", 400, Some("feedback")),
        ("/api/search?q=x&sort=up", 400, Some("sort")),
        ("/api/search?q=x&limt=3", 400, Some("limt")),
        ("/api/search?q=x&&&=&a", 400, Some("a")),
        ("/api/related", 400, Some("ids")),
        ("/api/related?ids=2403.05266&text=abc", 400, Some("text")),
        ("/api/related?text=%20", 400, Some("ids")),
        ("/api/related?ids=2403.05266&limit=-3", 400, Some("limit")),
        ("/api/topics?level=middle", 400, Some("level")),
        ("/api/topics/0?limit=0", 400, Some("limit")),
        ("/api/digest?format=pdf", 400, Some("format")),
        ("/api/digest?by_topic=maybe", 400, Some("by_topic")),
        ("/api/digest?q=x&limit=0", 400, Some("limit")),
        ("/api/stats?verbose=1", 400, Some("verbose")),
        ("/api/papers/%FF", 400, Some("id")),
        ("/api/papers/9999.99999", 404, Some("id")),
        ("/api/papers/2403.05266v9", 404, Some("id")),
        ("/api/papers/not%20an%20id", 404, Some("id")),
        ("/api/related?ids=9999.99999", 404, Some("id")),
        ("/api/topics/99999", 404, Some("id")),
        ("/api/topics/seven", 404, Some("id")),
        ("/api/nothing", 404, None),
        ("/api", 404, None),
        (&long, 414, None),
    ];
    for &(path, status, parameter) in cases {
        let answer = get(&server.url(path));
        let shown: String = path.chars().take(80).collect();
        assert_eq!(answer.status, status, "{shown}: {}", answer.body);
        assert!(
            answer.content_type.starts_with("application/json"),
            "{shown}"
        );
        let body = answer.json();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            !error.is_empty() && !error.contains('\n'),
            "{shown}: {body}"
        );
        assert_eq!(body["parameter"].as_str(), parameter, "{shown}: {body}");
    }
}

/// What a client library refuses to send: raw bytes in the request line, a broken request,
/// another method.
#[test]
fn malformed_requests_are_4xx() {
    let server = shared_server();
    let cases: &[&[u8]] = &[
        b"GET /api/search?q=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /api/papers/\xc3\x28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"POST /api/search?q=x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ];
    for request in cases {
        let status = raw_status(server, request);
        assert!(
            (400..500).contains(&status),
            "{} -> {status}",
            String::from_utf8_lossy(request)
        );
    }
}

/// Concurrent clients keep getting answers while `paperscope index` (another process) writes a
/// new generation; the server then serves it without a restart.
#[test]
fn live_switch_to_a_new_generation_fails_no_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let tmp = tempfile::tempdir().expect("temp dir");
    let index = tmp.path().join("index");
    let index_arg = index.to_string_lossy().into_owned();
    let first = crate::support::digest("2024-03-06_cs.CL_0a55959e.md");
    let second = crate::support::digest("2023-05-09_cs.CL_8ae271ac.md");
    run_ok(&["index", "--index", &index_arg, &first.to_string_lossy()]);
    let server: Arc<Server> = Arc::new(crate::support::start_server(&index));
    let before = get(&server.url("/api/health")).json();
    // Asked before the write, so they are cached for the first generation.
    let stats_before = get(&server.url("/api/stats")).json();
    let over_time_before = get(&server.url("/api/topics/over-time")).json();
    let added = paperscope::digest::parse_file(&second).expect("digest parses");
    let new_id = added
        .papers
        .iter()
        .map(|p| p.arxiv_id.clone())
        .find(|id| get(&server.url(&format!("/api/papers/{id}"))).status == 404)
        .expect("the second digest adds a paper");

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (server, stop, done) = (server.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let paths = [
                    "/api/search?q=hallucination",
                    "/api/search?q=language+model&mode=bm25",
                    "/api/related?text=machine+translation&limit=3",
                    "/api/health",
                ];
                let mut failures = Vec::new();
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    let answer = get(&server.url(paths[n % paths.len()]));
                    if answer.status != 200 {
                        failures.push(format!("{}: {}", answer.status, answer.body));
                    }
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();
    let output = paperscope()
        .args(["index", "--index", &index_arg, &second.to_string_lossy()])
        .output()
        .expect("index runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let during = done.load(Ordering::Relaxed);
    // The next request opens the new generation; a few more keep the clients going over it.
    let after = get(&server.url("/api/health")).json();
    let paper = get(&server.url(&format!("/api/papers/{new_id}")));
    let stats_after = get(&server.url("/api/stats")).json();
    let over_time_after = get(&server.url("/api/topics/over-time")).json();
    let target = done.load(Ordering::Relaxed) + 20;
    while done.load(Ordering::Relaxed) < target {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(during > 0, "requests ran while the index was written");
    assert!(
        after["generation"].as_u64() > before["generation"].as_u64(),
        "{before} -> {after}"
    );
    assert!(after["papers"].as_u64() > before["papers"].as_u64());
    assert_eq!(paper.status, 200, "{}", paper.body);
    // Counts computed once per generation follow the new one.
    assert_eq!(stats_before["papers"], before["papers"]);
    assert_eq!(stats_after["papers"], after["papers"]);
    let papers_over_time = |table: &serde_json::Value| -> u64 {
        let topics = table.as_object().expect("topics");
        topics
            .values()
            .flat_map(|months| months.as_object().expect("months").values())
            .filter_map(|n| n.as_u64())
            .sum()
    };
    assert!(
        papers_over_time(&over_time_after) > papers_over_time(&over_time_before),
        "{over_time_before} -> {over_time_after}"
    );
}

/// The `serve` command itself: prints where it listens (one JSON line with `--json`), answers
/// there, and a port already taken is a one-line error naming `--bind`.
#[test]
fn serve_command_listens_and_reports_a_taken_port() {
    use std::io::BufRead;

    let index = shared_index().to_owned();
    let mut child = paperscope()
        .args([
            "--json",
            "--index",
            &index,
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let ready: Value = serde_json::from_str(&line).expect("one JSON line");
    let url = ready["url"].as_str().expect("url").to_string();
    let health = get(&format!("{url}api/health"));
    let page = get(&url);
    let taken = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let refused = paperscope()
        .args(["--index", &index, "serve", "--bind", &taken])
        .output()
        .expect("second serve runs");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["papers"], ready["papers"]);
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("--bind") && error.contains(&taken),
        "{error}"
    );
}
