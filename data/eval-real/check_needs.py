#!/usr/bin/env python3
"""Check an eval needs file against companies.jsonl.

Usage: python3 check_needs.py NEEDS.jsonl [--companies companies.jsonl] [--quiet]

For each need prints: id, number of relevant companies (grade-3 count), and the
distinct matched product names, so regex precision can be reviewed by hand.
A company is relevant when one of its product names matches any `include`
regex (re.search) and no `exclude` regex.  Grade 3 if a matching product has
share >= 0.25, else grade 2.

Exits non-zero on invalid JSON, missing/invalid fields, duplicate ids, bad
regexes, or a need with <3 or >60 relevant companies.
"""

import argparse
import json
import os
import re
import sys

REQUIRED = [
    "id",
    "chain",
    "style",
    "leader",
    "title",
    "description",
    "keywords",
    "need_type",
    "judge",
]
STYLES = {"named", "paraphrased"}
NEED_TYPES = {"产品配套", "技术攻关", "产能协作", "国产替代", "服务"}
MIN_REL, MAX_REL = 3, 60


def load_companies(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def relevant(companies, inc, exc):
    res = []
    for c in companies:
        hits = [
            p
            for p in c.get("products", [])
            if any(r.search(p["name"]) for r in inc) and not any(r.search(p["name"]) for r in exc)
        ]
        if hits:
            grade = 3 if any(p.get("share", 0) >= 0.25 for p in hits) else 2
            res.append((c, hits, grade))
    return res


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("needs")
    ap.add_argument("--companies", default=os.path.join(here, "companies.jsonl"))
    ap.add_argument("--quiet", action="store_true", help="only print the summary line per need")
    args = ap.parse_args()

    companies = load_companies(args.companies)
    errors = []
    seen = set()
    sizes = []
    with open(args.needs, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            need = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {ln}: invalid JSON: {e}")
            continue
        nid = need.get("id", f"<line {ln}>")
        missing = [k for k in REQUIRED if k not in need]
        if missing:
            errors.append(f"{nid}: missing fields {missing}")
            continue
        if nid in seen:
            errors.append(f"{nid}: duplicate id")
        seen.add(nid)
        if need["style"] not in STYLES:
            errors.append(f"{nid}: bad style {need['style']!r}")
        if need["need_type"] not in NEED_TYPES:
            errors.append(f"{nid}: bad need_type {need['need_type']!r}")
        if not isinstance(need["keywords"], list):
            errors.append(f"{nid}: keywords must be a list")
        for k in ("title", "description", "leader", "chain"):
            if not isinstance(need[k], str) or not need[k].strip():
                errors.append(f"{nid}: empty {k}")
        judge = need["judge"]
        if (
            not isinstance(judge, dict)
            or not isinstance(judge.get("include"), list)
            or not judge.get("include")
        ):
            errors.append(f"{nid}: judge.include must be a non-empty list")
            continue
        try:
            inc = [re.compile(r) for r in judge["include"]]
            exc = [re.compile(r) for r in judge.get("exclude", [])]
        except re.error as e:
            errors.append(f"{nid}: bad regex: {e}")
            continue
        rel = relevant(companies, inc, exc)
        n = len(rel)
        n3 = sum(1 for _, _, g in rel if g == 3)
        sizes.append(n)
        flag = "" if MIN_REL <= n <= MAX_REL else "  <-- OUT OF RANGE"
        print(f"{nid}\t{need['chain']}\t{need['style']}\trel={n}\tg3={n3}\t{need['title']}{flag}")
        if not args.quiet:
            names = sorted({p["name"] for _, hits, _ in rel for p in hits})
            print("    products: " + " ; ".join(names))
            print("    companies: " + " ; ".join(c["name"] for c, _, _ in rel))
        if not MIN_REL <= n <= MAX_REL:
            errors.append(f"{nid}: {n} relevant companies (need {MIN_REL}-{MAX_REL})")
    if sizes:
        s = sorted(sizes)
        print(
            f"\n{len(sizes)} needs; relevant-set size min={s[0]} "
            f"median={s[len(s) // 2]} max={s[-1]}"
        )
    if errors:
        print("\nERRORS:", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
