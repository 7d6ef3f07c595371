from hypothesis import given
from hypothesis import strategies as st

from matching.uscc import ALPHABET, check_character, is_valid_uscc, normalize_uscc, uscc_error

# Published codes of real firms (public registry entries).
REAL = ["91370200163562681G", "91110000100010433L"]


def test_real_codes_are_valid() -> None:
    for code in REAL:
        assert uscc_error(code) is None


def test_wrong_check_character_is_named() -> None:
    error = uscc_error("91370200163562681H")
    assert error is not None and "应为 G" in error and "expected G" in error


def test_length_and_characters() -> None:
    assert "18" in (uscc_error("9137020016356268") or "")
    assert "I" in (uscc_error("91370200I63562681G") or "")
    assert uscc_error("X1370200163562681G") is not None  # unknown authority
    assert uscc_error("9137A200163562681G") is not None  # division code must be digits


def test_normalize() -> None:
    assert normalize_uscc(" 9137 0200-1635 62681g ") == "91370200163562681G"


bodies = st.builds(
    lambda auth, kind, division, org: auth + kind + division + org,
    st.sampled_from("159Y"),
    st.sampled_from("123"),
    st.from_regex(r"37[0-9]{4}", fullmatch=True),
    st.text(alphabet=ALPHABET, min_size=9, max_size=9),
)


@given(bodies)
def test_any_body_with_its_check_character_is_valid(body: str) -> None:
    assert is_valid_uscc(body + check_character(body))


@given(bodies, st.sampled_from(ALPHABET))
def test_any_other_check_character_is_refused(body: str, other: str) -> None:
    if other != check_character(body):
        assert not is_valid_uscc(body + other)


@given(bodies, st.integers(min_value=0, max_value=16), st.sampled_from(ALPHABET))
def test_a_single_changed_character_is_caught(body: str, pos: int, char: str) -> None:
    code = body + check_character(body)
    changed = code[:pos] + char + code[pos + 1 :]
    if changed != code and changed[0] in "159Y" and changed[2:8].isdigit():
        assert not is_valid_uscc(changed)
