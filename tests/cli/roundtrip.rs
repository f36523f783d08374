//! The export round trip into Milvus Lite and Qdrant's local mode (`tests/roundtrip/run.sh`), on
//! the shared index of `data/`: the engines load `export --format milvus|qdrant` and answer
//! paperscope's queries as `paperscope search` does, so the distributed path cannot rot unseen.
//!
//! The engines run in the tests' one virtualenv (`support::python`, shared with the read-back
//! tests, made once per target directory); skipped (with a message) only when python3 cannot
//! make a virtualenv outside CI; `.ci/run` installs python3-venv, and with `CI` set its absence
//! fails the test.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// Below today's figures (vector overlap 1.00 for both engines, Milvus' BM25 0.815 over 20
/// queries) by a margin for a changed tie order, far above what a broken export scores.
const VECTOR_FLOOR: f64 = 0.95;
const BM25_FLOOR: f64 = 0.7;

#[test]
fn export_round_trip_into_milvus_lite_and_qdrant() {
    let Some(python) = python() else {
        eprintln!("SKIPPED export_round_trip_into_milvus_lite_and_qdrant: no virtualenv");
        return;
    };
    let index = shared_index();
    let output = Command::new("bash")
        .arg(repo().join("tests/roundtrip/run.sh"))
        .env("ROUNDTRIP_PYTHON", &python)
        .env("PAPERSCOPE_BIN", env!("CARGO_BIN_EXE_paperscope"))
        .env("ROUNDTRIP_INDEX", index)
        .env(
            "ROUNDTRIP_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("roundtrip"),
        )
        .env_remove("PAPERSCOPE_INDEX")
        .env("PAPERSCOPE_CACHE", "off")
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "tests/roundtrip/run.sh failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the script prints one JSON report");
    eprintln!("{report:#}");
    let papers = paper_count(index);
    assert_eq!(report["qdrant_local"]["points"], papers, "{report:#}");
    assert_eq!(report["milvus_lite"]["rows"], papers, "{report:#}");
    for engine in ["qdrant_local", "milvus_lite"] {
        let overlap = report[engine]["vector_overlap"].as_f64().unwrap_or(0.0);
        assert!(
            overlap >= VECTOR_FLOOR,
            "{engine}: vector top-10 overlap {overlap} < {VECTOR_FLOOR}: {report:#}"
        );
    }
    let bm25 = report["milvus_lite"]["bm25_in_bm25_overlap"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        bm25 >= BM25_FLOOR,
        "Milvus BM25 top-10 overlap {bm25} < {BM25_FLOOR}: {report:#}"
    );
}
