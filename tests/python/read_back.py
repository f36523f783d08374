"""Reads paperscope's exports and feeds back with the libraries reference managers and feed
readers are built on, and prints what they understood as one JSON document on stdout, for the
Rust tests to check (tests/cli/references.rs, tests/server/feeds.rs).

    read_back.py csl-json FILE   # citeproc-py: parsed items and each rendered in a CSL style
    read_back.py ris FILE        # rispy: the records as rispy's dictionaries
    read_back.py atom URL        # feedparser: the feed and its entries, fetched from URL
"""

import json
import sys


def csl_json(path):
    from citeproc import (Citation, CitationItem, CitationStylesBibliography,
                          CitationStylesStyle, formatter)
    from citeproc.source.json import CiteProcJSON

    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    source = CiteProcJSON(data)
    # The style bundled with citeproc-py (Harvard, "Cite them right").
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    for item in data:
        bibliography.register(Citation([CitationItem(item["id"])]))
    rendered = [str(entry) for entry in bibliography.bibliography()]
    items = []
    for item in data:
        # citeproc-py's own reading of the item (ids are lower-cased by it).
        reference = source[str(item["id"]).lower()]
        issued = reference.get("issued")
        items.append({
            "id": reference.key,
            "type": reference.type,
            "title": str(reference.title),
            "url": str(reference.get("URL", "")),
            "doi": str(reference.get("DOI", "")),
            "number": str(reference.get("number", "")),
            "keyword": str(reference.get("keyword", "")),
            "note": str(reference.get("note", "")),
            "year": getattr(issued, "year", None),
            "month": getattr(issued, "month", None),
        })
    return {"items": items, "rendered": rendered}


def ris(path):
    import rispy

    with open(path, encoding="utf-8") as f:
        return {"records": rispy.load(f)}


def atom(url):
    import feedparser

    d = feedparser.parse(url)
    return {
        "status": d.get("status"),
        "version": d.get("version"),
        "bozo": bool(d.get("bozo")),
        "bozo_exception": str(d.get("bozo_exception", "")),
        "content_type": d.get("headers", {}).get("content-type", ""),
        "feed": {
            "id": d.feed.get("id"),
            "title": d.feed.get("title"),
            "updated": d.feed.get("updated"),
            "links": [dict(link) for link in d.feed.get("links", [])],
            "author": d.feed.get("author"),
        },
        "entries": [
            {
                "id": e.get("id"),
                "title": e.get("title"),
                "link": e.get("link"),
                "links": [dict(link) for link in e.get("links", [])],
                "updated": e.get("updated"),
                "updated_parsed": list(e.get("updated_parsed") or [])[:6],
                "summary": e.get("summary"),
                "content": [c.get("value") for c in e.get("content", [])],
                "tags": [t.get("term") for t in e.get("tags", [])],
            }
            for e in d.entries
        ],
    }


def main():
    kind, target = sys.argv[1], sys.argv[2]
    read = {"csl-json": csl_json, "ris": ris, "atom": atom}[kind]
    json.dump(read(target), sys.stdout, ensure_ascii=False, default=str)


if __name__ == "__main__":
    main()
