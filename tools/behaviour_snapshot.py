#!/usr/bin/env python3
"""Every answer a refactor must leave unchanged, written to one folder for `diff -r`.

    tools/behaviour_snapshot.py BINARY INDEX OUT

Runs BINARY (a built `paperscope`) against INDEX: `search --json` for every query of the three
judged query files in each mode, `related --json` for 40 seeds (the judged related sets' seeds,
then papers from the judged queries), `topics` at both levels and a digest by topic. Timings
(`took_ms`) are dropped, so two snapshots of the same behaviour are byte-identical.
"""
import json
import pathlib
import subprocess
import sys

QUERY_FILES = ["tests/queries.tsv", "tests/queries_heldout.tsv", "tests/queries_paraphrase.tsv"]
MODES = ["hybrid", "bm25", "vector"]
SEEDS = 40


def rows(path):
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split("\t")


def run(binary, index, args):
    done = subprocess.run([binary, "--index", index, *args], capture_output=True, text=True)
    return {"exit": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "took_ms"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def json_run(binary, index, args):
    answer = run(binary, index, ["--json", *args])
    try:
        answer["stdout"] = without_timings(json.loads(answer["stdout"]))
    except json.JSONDecodeError:
        pass
    return answer


def main():
    binary, index, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    seeds = []
    for path in QUERY_FILES:
        for mode in MODES:
            answers = []
            for row in rows(path):
                args = ["search", "--mode", mode, "-n", "10", "--", row[1]]
                answers.append(json_run(binary, index, args))
                if len(row) > 2:
                    seeds += [i.split(":")[0] for i in row[2].split()]
            name = pathlib.Path(path).stem + "." + mode + ".json"
            (out / name).write_text(json.dumps(answers, ensure_ascii=False, indent=1))
    judged = [row[1] for row in rows("tests/related_judged.tsv") if len(row) > 1]
    chosen = list(dict.fromkeys(judged + seeds))[:SEEDS]
    related = [json_run(binary, index, ["related", "-n", "10", seed]) for seed in chosen]
    (out / "related.json").write_text(json.dumps(related, ensure_ascii=False, indent=1))
    for name, args in {
        "topics.json": ["topics"],
        "topics-coarse.json": ["topics", "--level", "coarse"],
    }.items():
        (out / name).write_text(json.dumps(json_run(binary, index, args), ensure_ascii=False, indent=1))
    digest = run(binary, index, ["digest", "--by-topic", "--since", "2024-03", "--until", "2024-03"])
    (out / "digest.md").write_text(digest["stdout"] + "\n--- stderr\n" + digest["stderr"])
    print(f"{len(chosen)} seeds; snapshot in {out}")


if __name__ == "__main__":
    main()
