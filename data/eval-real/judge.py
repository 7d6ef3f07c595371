"""Grade every (need, company) pair from the products the companies report.

Usage: python data/eval-real/judge.py   (reads needs.jsonl and companies.jsonl, writes qrels.jsonl)

A company is relevant to a need when one of its reported product names matches one of the
need's `judge.include` patterns and none of its `judge.exclude` patterns: grade 3 when such a
product makes at least a quarter of its revenue, grade 2 otherwise. Everything else is 0.
The patterns were written with the needs, blind to the matcher.
"""

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAIN_SHARE = 0.25


def grade(judge: dict, products: list[dict]) -> int:
    """The grade of one company for one need's judging rule."""
    include = [re.compile(p) for p in judge.get("include", [])]
    exclude = [re.compile(p) for p in judge.get("exclude", [])]
    best = 0
    for product in products:
        name = product["name"]
        if any(p.search(name) for p in include) and not any(p.search(name) for p in exclude):
            best = max(best, 3 if product["share"] >= MAIN_SHARE else 2)
    return best


def main() -> None:
    companies = [json.loads(x) for x in (HERE / "companies.jsonl").open(encoding="utf-8")]
    needs = [json.loads(x) for x in (HERE / "needs.jsonl").open(encoding="utf-8")]
    with (HERE / "qrels.jsonl").open("w", encoding="utf-8") as out:
        for need in needs:
            for company in companies:
                g = grade(need["judge"], company["products"])
                if g:
                    row = {"need": need["id"], "company": company["code"], "grade": g}
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
