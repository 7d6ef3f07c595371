"""Unified social credit code (统一社会信用代码, GB 32100-2015)."""

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Registration authority (first character) codes defined by the standard.
AUTHORITIES = set("123456789ABCDEFGNY")


def check_character(body: str) -> str:
    """Return the check character for the first 17 characters of a code."""
    if len(body) != 17:
        raise ValueError("body must have 17 characters")
    total = sum(_VALUE[c] * w for c, w in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_error(code: str) -> str | None:
    """Explain why `code` is not a valid credit code, in Chinese and English; None when valid."""
    if len(code) != 18:
        n = len(code)
        return f"统一社会信用代码应为18位，实际{n}位 / must have 18 characters, got {n}"
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        chars = "".join(bad)
        return f"含非法字符 {chars}（不使用I、O、S、V、Z） / invalid characters {chars}"
    if code[0] not in AUTHORITIES:
        return f"登记管理部门代码 {code[0]} 无效 / unknown registration authority {code[0]}"
    if not code[2:8].isdigit():
        return "第3-8位应为行政区划码 / characters 3-8 must be an administrative division code"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"校验码错误，应为 {expected} / wrong check character, expected {expected}"
    return None


def normalize_uscc(raw: str) -> str:
    """Upper-case and strip spaces and hyphens that people type into codes."""
    return raw.strip().replace(" ", "").replace("-", "").upper()


def is_valid_uscc(code: str) -> bool:
    """True when `code` is a well-formed credit code with the right check character."""
    return uscc_error(code) is None
