"""Unit tests for xcapp.registry.validation (pure; no app fixtures)."""
import datetime as dt
import random
import re

import pytest

from xcapp.core.text import normalize_code, normalize_text
from xcapp.registry.validation import (
    LICENCE_NO_PATTERN,
    USCC_ALPHABET,
    ValidationError,
    make_uscc,
    normalize_licence_no,
    normalize_uscc,
    parse_date,
    uscc_check_char,
    validate_licence_no,
    validate_phone,
    validate_uscc,
    validate_validity,
)

# ---------------------------------------------------------------------------
# Independent reference for the GB 32100-2015 check character: the weight table
# as printed in the standard (not derived from 3**i by the code under test) and
# the character values written out by hand.
# ---------------------------------------------------------------------------
GB32100_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
GB32100_VALUES = dict(zip("0123456789", range(10)))
GB32100_VALUES.update({"A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17,
                       "J": 18, "K": 19, "L": 20, "M": 21, "N": 22, "P": 23, "Q": 24, "R": 25,
                       "T": 26, "U": 27, "W": 28, "X": 29, "Y": 30})


def reference_check(first17: str) -> str:
    total = sum(GB32100_VALUES[c] * w for c, w in zip(first17, GB32100_WEIGHTS))
    c = 31 - total % 31
    c = 0 if c == 31 else c
    return {v: k for k, v in GB32100_VALUES.items()}[c]


# Real-world codes published by the enterprises themselves (business licences on
# their websites), each re-verified with reference_check above and with stdnum.
REAL_USCCS = [
    "914403001922038216",   # 华为技术有限公司
    "9144030071526726XG",   # 深圳市腾讯计算机系统有限公司
    "91110000600037341L",   # example in python-stdnum's documentation
]


class TestNormalizeText:
    def test_none_is_empty(self):
        assert normalize_text(None) == ""

    def test_fullwidth_ascii_to_halfwidth_keeps_cjk(self):
        assert normalize_text("ＡＢＣ１２３－（許昌）") == "ABC123-(許昌)"
        assert normalize_text("许昌市　电线电缆厂") == "许昌市 电线电缆厂"

    def test_strips_ideographic_space_nbsp_and_zero_width(self):
        assert normalize_text("\u3000\u00a0 许昌 \u200b\ufeff\u3000") == "许昌"

    def test_inner_spaces_of_names_kept(self):
        assert normalize_text("  ABC  Co.  Ltd ") == "ABC  Co.  Ltd"

    def test_non_string(self):
        assert normalize_text(12) == "12"

    def test_normalize_code_removes_all_spaces_and_unifies_dashes(self):
        assert normalize_code(" 豫ｘｋ13—014 －00012 ") == "豫XK13-014-00012"


class TestUSCC:
    @pytest.mark.parametrize("code", REAL_USCCS)
    def test_real_codes_valid_and_independently_verified(self, code):
        from stdnum.cn import uscc as stdnum_uscc

        assert reference_check(code[:17]) == code[17]
        assert stdnum_uscc.is_valid(code)
        assert validate_uscc(code) == code
        assert uscc_check_char(code[:17]) == code[17]

    def test_alphabet(self):
        assert len(USCC_ALPHABET) == 31
        assert not set("IOSVZ") & set(USCC_ALPHABET)

    def test_matches_reference_and_stdnum_on_random_codes(self):
        from stdnum.cn import uscc as stdnum_uscc

        rnd = random.Random(20231104)
        for _ in range(500):
            first17 = "".join(rnd.choice("0123456789") for _ in range(8)) + "".join(
                rnd.choice(USCC_ALPHABET) for _ in range(9)
            )
            code = make_uscc(first17)
            assert code[17] == reference_check(first17)
            assert stdnum_uscc.calc_check_digit(first17) == code[17]
            assert validate_uscc(code) == code

    @pytest.mark.parametrize("first17", ["Y1411000MA00000AA", "N2411002MA0000001", "A1411081MA45X0K0T"])
    def test_codes_starting_with_a_letter_are_accepted(self, first17):
        from stdnum.cn import uscc as stdnum_uscc

        code = make_uscc(first17)
        assert code[17] == reference_check(first17)
        assert validate_uscc(code) == code
        # python-stdnum rejects them: the reason this module computes the check by hand.
        assert not stdnum_uscc.is_valid(code)

    def test_wrong_check_digit(self):
        code = REAL_USCCS[0]
        wrong = code[:17] + ("7" if code[17] != "7" else "8")
        with pytest.raises(ValidationError) as exc:
            validate_uscc(wrong)
        assert exc.value.message.startswith("统一社会信用代码校验位错误")
        assert f"应为{code[17]}" in exc.value.message

    def test_any_single_substitution_is_detected(self):
        code = make_uscc("91411000MA44ABCD1")
        for i in range(18):
            for c in USCC_ALPHABET:
                if c == code[i]:
                    continue
                bad = code[:i] + c + code[i + 1:]
                with pytest.raises(ValidationError):
                    validate_uscc(bad)

    def test_length(self):
        with pytest.raises(ValidationError) as exc:
            validate_uscc("91411000MA44ABCD")
        assert exc.value.message.startswith("统一社会信用代码应为18位")

    def test_old_15_digit_registration_number_hint(self):
        with pytest.raises(ValidationError) as exc:
            validate_uscc("410000100012345")
        assert "注册号" in exc.value.message

    def test_empty(self):
        with pytest.raises(ValidationError, match="不能为空"):
            validate_uscc("  ")
        with pytest.raises(ValidationError, match="不能为空"):
            validate_uscc(None)

    def test_illegal_character(self):
        code = make_uscc("91411000MA44ABCD1")
        bad = code[:10] + "I" + code[11:]
        with pytest.raises(ValidationError) as exc:
            validate_uscc(bad)
        assert "统一社会信用代码含非法字符“I”" in exc.value.message

    def test_fullwidth_lowercase_and_spaces_normalized(self):
        code = make_uscc("91411000MA44ABCD1")
        fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())
        messy = "\u3000" + fullwidth[:6] + " " + fullwidth[6:] + " "
        assert normalize_uscc(messy) == code
        assert validate_uscc(messy) == code

    def test_make_uscc_rejects_bad_input(self):
        with pytest.raises(ValidationError):
            make_uscc("123")
        with pytest.raises(ValidationError, match="非法字符"):
            make_uscc("9141100OMA44ABCD1")


class TestLicenceNo:
    @pytest.mark.parametrize("raw,expected", [
        ("豫XK13-014-00012", "豫XK13-014-00012"),
        ("XK13-014-00012", "XK13-014-00012"),
        ("豫xk13-014-00012", "豫XK13-014-00012"),
        ("豫ＸＫ１３－０１４－０００１２", "豫XK13-014-00012"),
        (" 豫 XK13 - 014 - 00012\u3000", "豫XK13-014-00012"),
        ("粤XK16—204—01234", "粤XK16-204-01234"),
        ("黔XK06-001-00001", "黔XK06-001-00001"),
    ])
    def test_valid(self, raw, expected):
        assert normalize_licence_no(raw) == expected
        assert validate_licence_no(raw) == expected

    def test_pattern_is_one_constant(self):
        assert re.fullmatch(LICENCE_NO_PATTERN, "豫XK13-014-00012")
        assert re.fullmatch(LICENCE_NO_PATTERN, "XK13-014-00012")
        assert not re.fullmatch(LICENCE_NO_PATTERN, "美XK13-014-00012")

    @pytest.mark.parametrize("raw", [
        "豫XK13-014-0012", "豫XK1-014-00012", "豫QS13-014-00012", "豫XK13014-00012", "13-014-00012",
    ])
    def test_bad_format(self, raw):
        with pytest.raises(ValidationError) as exc:
            validate_licence_no(raw)
        assert "生产许可证编号格式应为 豫XK13-014-00012" in exc.value.message

    def test_unknown_province_prefix(self):
        with pytest.raises(ValidationError, match="不是省级行政区简称"):
            validate_licence_no("河南XK13-014-00012")

    def test_empty(self):
        with pytest.raises(ValidationError, match="不能为空"):
            validate_licence_no("")


class TestPhone:
    @pytest.mark.parametrize("raw,expected", [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("86-13800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("0374-1234567", "0374-1234567"),
        ("03741234567", "0374-1234567"),
        ("（0374）1234567", "0374-1234567"),
        ("(0374) 123 4567", "0374-1234567"),
        ("０３７４－１２３４５６７", "0374-1234567"),
        ("0374—1234567", "0374-1234567"),
        ("010-12345678", "010-12345678"),
        ("02012345678", "020-12345678"),
        ("0374-1234567-801", "0374-1234567-801"),
        ("0374-1234567转801", "0374-1234567-801"),
        ("400-810-8888", "400-810-8888"),
    ])
    def test_valid(self, raw, expected):
        assert validate_phone(raw) == expected

    @pytest.mark.parametrize("raw", [
        "1234567", "12800138000", "1380013800", "138001380001", "0374-123456", "abc",
        "0374-1234567-1234567", "-", "13800138000/0374-1234567",
    ])
    def test_invalid(self, raw):
        with pytest.raises(ValidationError) as exc:
            validate_phone(raw)
        assert "格式不正确" in exc.value.message

    def test_empty_and_label(self):
        with pytest.raises(ValidationError, match="^手机号码不能为空$"):
            validate_phone("\u3000", label="手机号码")


class TestDates:
    D = dt.date(2023, 7, 4)

    @pytest.mark.parametrize("raw", [
        dt.date(2023, 7, 4), dt.datetime(2023, 7, 4, 15, 30), "2023-07-04", "2023/7/4", "2023.07.04",
        "2023年7月4日", "2023年07月04日", "2023 年 7 月 4 日", "２０２３－０７－０４", "20230704",
        "2023-07-04 00:00:00", "2023-07-04T08:00", " 2023-7-4\u3000", 45111, 45111.0, 45111.75, "45111",
    ])
    def test_accepted(self, raw):
        assert parse_date(raw) == self.D

    def test_excel_serial_reference_points(self):
        assert parse_date(36526) == dt.date(2000, 1, 1)
        assert parse_date(73415) == dt.date(2100, 12, 31)

    @pytest.mark.parametrize("raw", [
        "2023-13-01", "2023-02-30", "2023年2月29日",
    ])
    def test_impossible_dates(self, raw):
        with pytest.raises(ValidationError, match="不存在"):
            parse_date(raw, "发证日期")

    @pytest.mark.parametrize("raw", [
        "7/4/2023", "23-07-04", "昨天", "2023-07", 12, 3000000, -5, float("nan"), True, "2023-07-04x",
    ])
    def test_rejected(self, raw):
        with pytest.raises(ValidationError) as exc:
            parse_date(raw, "发证日期")
        assert exc.value.message.startswith("发证日期")

    def test_year_out_of_range(self):
        with pytest.raises(ValidationError, match="年份"):
            parse_date("1023-07-04")

    def test_empty(self):
        with pytest.raises(ValidationError, match="^有效期至不能为空$"):
            parse_date(None, "有效期至")

    def test_validity(self):
        assert validate_validity("2023-07-04", "2028年7月3日") == (dt.date(2023, 7, 4), dt.date(2028, 7, 3))

    @pytest.mark.parametrize("expiry", ["2023-07-04", "2022-07-04"])
    def test_validity_expiry_must_be_after_issue(self, expiry):
        with pytest.raises(ValidationError) as exc:
            validate_validity("2023-07-04", expiry)
        assert "有效期至" in exc.value.message and "应晚于发证日期" in exc.value.message

    def test_validity_reports_which_date_is_bad(self):
        with pytest.raises(ValidationError, match="^发证日期"):
            validate_validity("x", "2028-07-03")
        with pytest.raises(ValidationError, match="^有效期至"):
            validate_validity("2023-07-04", "")
