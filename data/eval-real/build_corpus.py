"""Build companies.jsonl from the ChainKnowledgeGraph SurrealQL dump (even stock codes only).

Usage: python data/eval-real/build_corpus.py PATH/TO/data.sql > data/eval-real/companies.jsonl

Companies whose six-digit stock code is odd are held out for an independent check: every
statement about them is dropped while reading, before anything else looks at it.
"""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

INDUSTRY = re.compile(r"^CREATE industry:(\d+) SET name = '(.*)';$")
COMPANY = re.compile(r"^CREATE company:(\w+) SET name = '(.*?)', fullname = '(.*?)',")
IN_INDUSTRY = re.compile(
    r"^RELATE company:(\w+)->company_industry_relation->industry:(\d+) SET name = '.*?';$"
)
PRODUCT = re.compile(
    r"^RELATE company:(\w+)->company_product_relation->\(SELECT \* FROM product WHERE "
    r"name = '(.*?)'\) SET name = '主营产品', weight = ([\d.eE+-]+);$"
)


def even(code: str) -> bool:
    """True for the development half: six-digit stock codes that are even."""
    return int(code[:6]) % 2 == 0


def main(path: str) -> None:
    industries: dict[str, str] = {}
    names: dict[str, tuple[str, str]] = {}
    industry_of: dict[str, str] = {}
    products: dict[str, dict[str, float]] = defaultdict(dict)
    text = Path(path).read_text(encoding="utf-8")
    for raw in re.split(r";\n", text):
        stmt = raw.replace("\n", " ").strip() + ";"
        if stmt.startswith("CREATE industry:"):
            m = INDUSTRY.match(stmt)
            if m:
                industries[m[1]] = m[2]
            continue
        if not stmt.startswith(("CREATE company:", "RELATE company:")):
            continue
        code = stmt.split("->")[0].split(" ")[1].split(":")[1][:6]
        if not even(code):
            continue
        if m := COMPANY.match(stmt):
            names[code] = (m[2], m[3])
        elif m := IN_INDUSTRY.match(stmt):
            industry_of[code] = m[2]
        elif m := PRODUCT.match(stmt):
            name = m[2].strip()
            if name:
                products[code][name] = max(products[code].get(name, 0.0), float(m[3]))
    for code in sorted(products):
        if code not in names:
            continue
        ranked = sorted(products[code].items(), key=lambda kv: (-kv[1], kv[0]))
        row = {
            "code": code,
            "name": names[code][0],
            "fullname": names[code][1],
            "industry": industries.get(industry_of.get(code, ""), ""),
            "industry_code": industry_of.get(code, ""),
            "products": [{"name": n, "share": round(s, 4)} for n, s in ranked],
        }
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
