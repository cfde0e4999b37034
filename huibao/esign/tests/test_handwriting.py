from __future__ import annotations

import io
import json
import subprocess

import pytest
from django.template.loader import render_to_string
from django.utils.html import escape
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from huibao.core.errors import ValidationFailed
from huibao.esign.handwriting import (
    MAX_POINTS,
    PNG_MARGIN_PX,
    PNG_MAX_SIDE,
    PNG_PEN_PX,
    PNG_SCALE,
    SignatureInk,
    check_handwritten_signature,
    name_characters,
    parse_strokes,
    render_signature_png,
    segment_characters,
)
from huibao.esign.pdf import Section, render_pdf
from huibao.esign.tests.ink import stroke, write


def _codes(ink: SignatureInk, name: str) -> list[str]:
    return [error.code for error in check_handwritten_signature(ink, name)]


def _refusal(raw) -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_strokes(raw)
    (error,) = caught.value.errors
    assert error.field == "signature"
    return error.code, error.message


# --- parse_strokes ----------------------------------------------------------------------------


def test_parse_accepts_the_pad_format_as_json_or_dict():
    # given what the pad posts
    raw = {"width": 340, "height": 200, "strokes": [[[10, 20, 0], [12.5, 21, 16]], [], [[30, 40, 300]]]}
    # when
    from_json = parse_strokes(json.dumps(raw))
    from_dict = parse_strokes(raw)
    # then both give the same ink, empty strokes dropped, numbers as floats
    assert from_json == from_dict
    assert (from_json.width, from_json.height) == (340, 200)
    assert from_json.strokes == (((10.0, 20.0, 0.0), (12.5, 21.0, 16.0)), ((30.0, 40.0, 300.0),))
    assert from_json.point_count == 3
    assert parse_strokes(from_json.as_dict()) == from_json


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[]",
        '{"width": 340, "height": 200}',
        '{"width": 340, "height": 200, "strokes": "abc"}',
        '{"width": "340", "height": 200, "strokes": []}',
        '{"width": true, "height": 200, "strokes": []}',
        '{"width": 340.5, "height": 200, "strokes": []}',
        '{"width": 340, "height": 200, "strokes": [[1, 2, 3]]}',
        '{"width": 340, "height": 200, "strokes": [[[1, 2]]]}',
        '{"width": 340, "height": 200, "strokes": [[[1, "2", 3]]]}',
        '{"width": 340, "height": 200, "strokes": [[[1, NaN, 3]]]}',
        '{"width": 340, "height": 200, "strokes": [[[1, false, 3]]]}',
    ],
)
def test_malformed_data_is_refused(raw):
    code, message = _refusal(raw)
    assert code == "malformed"
    assert message == "签名数据无法识别，请清除后重新签名"


def test_nothing_sent_is_an_empty_pad():
    assert _refusal("  ")[0] == "empty"


@pytest.mark.parametrize(
    "raw",
    [
        {"width": 0, "height": 200, "strokes": []},
        {"width": 340, "height": 5000, "strokes": []},
        {"width": 340, "height": 200, "strokes": [[[341, 10, 0]]]},
        {"width": 340, "height": 200, "strokes": [[[10, -1, 0]]]},
        {"width": 340, "height": 200, "strokes": [[[10, 10, -5]]]},
        {"width": 340, "height": 200, "strokes": [[[10, 10, 4_000_000]]]},
    ],
)
def test_out_of_range_values_are_refused(raw):
    assert _refusal(raw)[0] == "out_of_range"


def test_too_many_points_strokes_or_bytes_are_refused():
    points = [[1, 1, i] for i in range(MAX_POINTS + 1)]
    assert _refusal({"width": 340, "height": 200, "strokes": [points]})[0] == "too_many_points"
    assert _refusal({"width": 340, "height": 200, "strokes": [[[1, 1, 0]]] * 201})[0] == "too_many_points"
    assert _refusal(" " * 400_001)[0] == "too_many_points"


# --- check_handwritten_signature: refusals ----------------------------------------------------


def test_an_empty_pad_is_refused():
    ink = parse_strokes({"width": 340, "height": 200, "strokes": []})
    (error,) = check_handwritten_signature(ink, "张三")
    assert (error.field, error.code, error.message) == ("signature", "empty", "请先在签名框内签名")


def _ink(*strokes: list[list[float]], canvas=(340, 200)) -> SignatureInk:
    return parse_strokes({"width": canvas[0], "height": canvas[1], "strokes": list(strokes)})


@pytest.mark.parametrize(
    ("ink", "message"),
    [
        # one zigzag stroke, however big
        (
            _ink(stroke((20, 150), (80, 40), (140, 160), (200, 30), (260, 150))),
            "签名过于简单，请用正楷逐字签写您的姓名",
        ),
        # two quick strokes: too few points
        (
            _ink(stroke((50, 50), (90, 100), step=50), stroke((100, 50), (140, 110), step=50)),
            "签名过于简单，请用正楷逐字签写您的姓名",
        ),
        # a dot made of several strokes
        (
            _ink(*[stroke((100 + i, 100), (103 + i, 104), (100 + i, 106), step=1) for i in range(4)]),
            "签名太小，请在签名框内写大一些",
        ),
        # a straight line drawn in two strokes
        (
            _ink(stroke((20, 100), (150, 101)), stroke((160, 101), (300, 102))),
            "签名不能是一条直线，请用正楷逐字签写您的姓名",
        ),
    ],
    ids=["one-stroke", "few-points", "dot", "straight-line"],
)
def test_scribbles_are_refused(ink, message):
    (error,) = check_handwritten_signature(ink, "张三")
    assert (error.code, error.message) == ("scribble", message)


def test_a_signature_written_too_small_is_refused():
    # given a correct name written 18 px tall on a 340 x 200 pad
    ink = parse_strokes(write("张三", size=18))
    # then
    (error,) = check_handwritten_signature(ink, "张三")
    assert (error.code, error.message) == ("scribble", "签名太小，请在签名框内写大一些")


def test_one_character_for_a_three_character_name_is_refused():
    # given only the surname, written with its six strokes
    ink = parse_strokes(write("张", size=90))
    # when
    (error,) = check_handwritten_signature(ink, "张三丰")
    # then
    assert error.code == "character_count"
    assert error.message == "签名应为3个字（张三丰），识别到1个字，请逐字正楷签写"


@pytest.mark.parametrize(
    ("written", "name", "found"),
    [("张三", "张三丰", 2), ("张三丰", "张三", 3), ("欧阳晓", "欧阳晓林", 3), ("李小明", "李明", 3)],
)
def test_a_different_number_of_characters_is_refused(written, name, found):
    ink = parse_strokes(write(written, size=60, canvas=(400, 200)))
    (error,) = check_handwritten_signature(ink, name)
    assert error.code == "character_count"
    assert f"识别到{found}个字" in error.message
    assert f"签名应为{len(name)}个字（{name}）" in error.message


def test_characters_written_as_one_joined_stroke_each_side_are_counted_as_one():
    # given 张三 where the writer joined both characters into one cursive line per row
    ink = _ink(
        stroke((20, 60), (70, 60), (60, 90), (140, 80), (180, 60), (240, 60)),
        stroke((30, 140), (120, 110), (170, 150), (250, 140)),
    )
    # then it does not count as two separate characters
    assert _codes(ink, "张三") == ["character_count"]


# --- check_handwritten_signature: acceptance --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("张明", {}),
        ("张三丰", {}),
        ("李小明", {}),
        ("欧阳晓林", {"size": 60, "canvas": (400, 200)}),
        ("林明", {"spacing": 0.05}),  # two two-part characters written close together
        ("王川", {}),  # 川: three strokes with wide gaps
        ("小王", {"spacing": 0.1}),
        ("张三丰", {"spacing": -0.12}),  # characters slightly overlapping
        ("欧阳晓林", {"size": 60, "spacing": -0.1, "canvas": (400, 200)}),
        ("张三丰", {"drift": 0.25, "canvas": (340, 260), "origin": (15, 10)}),  # a line going down
        ("欧阳晓林", {"size": 55, "spacing": 0.6, "canvas": (500, 200)}),  # widely spaced
    ],
)
def test_a_name_written_character_by_character_is_accepted(name, options):
    ink = parse_strokes(write(name, **options))
    assert check_handwritten_signature(ink, name) == []
    assert len(segment_characters(ink)) == len(name)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["张明", "王川", "李林", "张三丰", "王小川", "欧阳明", "欧阳晓林", "张林晓明"]),
    spacing=st.floats(-0.12, 0.6),
    drift=st.floats(-0.15, 0.15),
    size=st.floats(45, 75),
    seed=st.integers(0, 1000),
)
def test_character_count_holds_for_varied_handwriting(name, spacing, drift, size, seed):
    # given a name written at any size, spacing (slight overlaps included) and slope of the line
    n = len(name)
    top = 20 + max(-drift, 0) * size * n
    canvas = (int(40 + n * size * (1 + spacing) + 40), int(top + size * (1 + abs(drift) * n) + 40))
    ink = parse_strokes(
        write(name, size=size, spacing=spacing, drift=drift, canvas=canvas, origin=(15, top), seed=seed)
    )
    # then as many characters are found as the name has
    assert len(segment_characters(ink)) == n


def test_a_name_in_latin_letters_is_only_checked_for_scribbles():
    ink = parse_strokes(write("张三丰"))
    assert check_handwritten_signature(ink, "John Smith") == []


def test_name_characters_leave_out_spaces_and_the_middle_dot():
    assert name_characters(" 买买提·艾力 ") == "买买提艾力"
    assert name_characters("张 三") == "张三"


# --- render_signature_png ---------------------------------------------------------------------


def test_png_is_trimmed_to_the_ink_with_a_margin():
    # given ink spanning x 15..~230 and y 50..~120 on a 340 x 200 pad
    ink = parse_strokes(write("张三丰"))
    left, top, right, bottom = ink.bounds()
    # when
    image = Image.open(io.BytesIO(render_signature_png(ink)))
    # then it decodes, is transparent around black ink, and is the ink's size plus the margin
    assert image.format == "PNG" and image.mode == "RGBA"
    margin = PNG_MARGIN_PX + PNG_PEN_PX / 2
    assert image.width == round((right - left + 2 * margin) * PNG_SCALE)
    assert image.height == round((bottom - top + 2 * margin) * PNG_SCALE)
    assert image.width < 340 * PNG_SCALE and image.height < 200 * PNG_SCALE
    alpha = image.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((image.width - 1, image.height - 1)) == 0
    assert alpha.getextrema() == (0, 255)
    # the margin is blank and the ink reaches into the band just inside it on every side
    inner = round((margin - PNG_PEN_PX) * PNG_SCALE) - 1
    assert alpha.getbbox()[0] >= inner and alpha.getbbox()[1] >= inner
    assert alpha.getbbox()[0] <= round(margin * PNG_SCALE) + 1
    red, green, blue, _ = image.getpixel(_darkest(alpha))
    assert (red, green, blue) == (0, 0, 0)


def _darkest(alpha: Image.Image) -> tuple[int, int]:
    width = alpha.width
    data = list(alpha.get_flattened_data())
    index = data.index(max(data))
    return index % width, index // width


def test_png_goes_into_a_pdf_at_its_own_pixel_size(tmp_path):
    # given the PNG of a handwritten signature placed in a document
    png = render_signature_png(parse_strokes(write("张三丰")))
    width, height = Image.open(io.BytesIO(png)).size
    path = tmp_path / "signed.pdf"
    path.write_bytes(render_pdf("投保单", [Section(heading="投保人签名", image_png=png)]))
    # when
    listing = subprocess.run(["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True)
    # then the image is embedded with its pixels and an alpha mask (transparent background)
    rows = [line.split() for line in listing.stdout.strip().splitlines()[2:]]
    size = (str(width), str(height))
    assert [(row[2], (row[3], row[4])) for row in rows] == [("image", size), ("smask", size)]


def test_png_of_a_huge_signature_is_capped():
    ink = parse_strokes(write("张三丰", size=1000, canvas=(4000, 1200), origin=(20, 20)))
    image = Image.open(io.BytesIO(render_signature_png(ink)))
    assert max(image.size) == PNG_MAX_SIDE


def test_png_of_a_one_point_stroke_is_a_dot():
    ink = parse_strokes({"width": 100, "height": 100, "strokes": [[[50, 50, 0]]]})
    image = Image.open(io.BytesIO(render_signature_png(ink)))
    assert image.getchannel("A").getpixel((image.width // 2, image.height // 2)) > 250


def test_png_of_empty_ink_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        render_signature_png(parse_strokes({"width": 100, "height": 100, "strokes": []}))


# --- The pad's template include ---------------------------------------------------------------


def test_pad_include_renders_the_contract_the_script_and_server_share():
    # given a form shown again with the ink it was posted with and the server's refusal
    posted = json.dumps(write("张三"))
    # when
    html = render_to_string(
        "esign/signature_pad.html",
        {"name": "张三", "input_name": "applicant_signature", "value": posted, "error": "签名太小"},
    )
    # then the ids, the hidden input (value escaped, round-tripping), the guide and the error are there
    assert 'id="signature-canvas"' in html and 'id="signature-clear"' in html
    assert 'name="applicant_signature"' in html
    assert f'value="{escape(posted)}"' in html
    assert '<span class="signature-pad__guide" aria-hidden="true">张三</span>' in html
    assert "signature-pad--invalid" in html and "签名太小" in html
    assert "js/signature-pad.js" in html and "css/signature-pad.css" in html


def test_pad_include_defaults_to_the_signature_input():
    html = render_to_string("esign/signature_pad.html", {"name": "李四"})
    assert 'name="signature" value=""' in html
    assert "signature-pad--invalid" not in html


# --- the same strokes on a pad of any size ---------------------------------------------------


def _scale(pad: dict, fx: float, fy: float | None = None) -> dict:
    """The pad's JSON with the canvas scaled (fx wide, fy tall) and the strokes scaled by fx (as a
    pad that is larger draws the same hand larger), rounded as the pad rounds (0.1 px)."""
    fy = fx if fy is None else fy
    return {
        "width": round(pad["width"] * fx),
        "height": round(pad["height"] * fy),
        "strokes": [[[round(x * fx, 1), round(y * fx, 1), t] for x, y, t in s] for s in pad["strokes"]],
    }


SAMPLES = [
    ("李晓明", write("李晓明")),
    ("李晓明", write("李晓明", size=64, spacing=0.08, drift=0.04, seed=3)),
    ("王小明", write("王小明", spacing=-0.05)),
    ("张三丰", write("张三丰", size=80, spacing=0.15, seed=7)),
    ("欧阳晓明", write("欧阳晓明", size=60, spacing=0.1)),
    ("李晓明", write("李晓", size=70)),  # a character missing
    ("王小明", write("王小明", size=14, spacing=0.1)),  # too small
    ("李晓", write("李晓", size=26, spacing=-0.45)),  # small and cramped: near the size limits
]


@pytest.mark.parametrize(("name", "pad"), SAMPLES)
@pytest.mark.parametrize("factor", [1.6, 1.25, 0.8])
def test_the_same_strokes_get_the_same_verdict_on_a_larger_or_smaller_pad(name, pad, factor) -> None:
    # given: the strokes as drawn on the standard pad, and the same hand on a pad `factor` larger
    standard = check_handwritten_signature(parse_strokes(pad), name)
    scaled = check_handwritten_signature(parse_strokes(_scale(pad, factor)), name)
    # then: the same verdict, the same message
    assert [(e.code, e.message) for e in scaled] == [(e.code, e.message) for e in standard]


@pytest.mark.parametrize(("name", "pad"), SAMPLES)
def test_the_same_strokes_on_the_taller_elder_pad_get_the_same_verdict(name, pad) -> None:
    # given: elder mode's pad, as wide as the standard one and 1.6 times as tall
    standard = check_handwritten_signature(parse_strokes(pad), name)
    taller = check_handwritten_signature(parse_strokes(_scale(pad, 1.0, 1.6)), name)
    assert [(e.code, e.message) for e in taller] == [(e.code, e.message) for e in standard]


def test_a_clear_name_passes_at_every_size() -> None:
    pad = write("李晓明", size=64, spacing=0.12)
    for factor in (1.0, 1.6):
        assert check_handwritten_signature(parse_strokes(_scale(pad, factor)), "李晓明") == []
