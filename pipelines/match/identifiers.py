"""Identifier checks shared by the demo generator and the rule engine.

统一社会信用代码 (USCC, GB 32100-2015): 18 characters from a 31-character set
(digits and capitals without I O S V Z). Position 18 is a check character over
positions 1-17 with weights 3^(i-1) mod 31. Positions 9-17 are the old
组织机构代码 (GB 11714), which has its own check character at position 17.

Food licences: only the format can be checked (the SC/JY check digit algorithm
is not published), so :func:`food_license_kind` validates format only.
"""

from __future__ import annotations

import re

#: GB 32100-2015 character set; a character's value is its index.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
#: Weights for positions 1-17: 3^(i-1) mod 31.
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))

#: GB 11714 (组织机构代码) weights for its first 8 characters.
ORG_CODE_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)

_FOOD_LICENSE_RE = re.compile(r"^(SC|JY)\d{14}$")


def uscc_check_char(code17: str) -> str:
    """Check character (position 18) for the first 17 characters of a USCC.

    Raises ValueError if ``code17`` is not 17 characters of the USCC set.
    """
    code17 = code17.strip().upper()
    if len(code17) != 17:
        raise ValueError(f"need 17 characters, got {len(code17)}")
    try:
        total = sum(_USCC_VALUE[c] * w for c, w in zip(code17, USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the USCC character set") from None
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """True if ``code`` is 18 USCC characters whose last one is the right check character.

    Surrounding whitespace is ignored and lower case is accepted. The inner
    组织机构代码 check (see :func:`org_code_check_char`) is not required, because
    some genuine codes (e.g. 个体工商户 numbers) do not carry one.
    """
    if not isinstance(code, str):
        return False
    code = code.strip().upper()
    if len(code) != 18 or any(c not in _USCC_VALUE for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def org_code_check_char(code8: str) -> str:
    """GB 11714 check character for the 8-character body of an organisation code.

    Digits count as 0-9 and letters A-Z as 10-35; the result is 0-9 or "X".
    """
    code8 = code8.strip().upper()
    if len(code8) != 8 or not code8.isalnum() or not code8.isascii():
        raise ValueError("need 8 ASCII letters or digits")
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(code8, ORG_CODE_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def food_license_kind(number: str) -> str | None:
    """"SC" (食品生产许可证) or "JY" (食品经营许可证) if the format is right, else None."""
    m = _FOOD_LICENSE_RE.match(number.strip().upper()) if isinstance(number, str) else None
    return m.group(1) if m else None
