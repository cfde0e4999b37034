"""Handwritten signatures: the ink the signature pad sends, its check against the signer's name, a PNG.

The browser (static/js/signature-pad.js) posts, in the hidden input `signature`::

    {"width": 340, "height": 200, "strokes": [[[x, y, t_ms], ...], ...]}

with coordinates in CSS pixels of the canvas (origin top left) and t in milliseconds since the
first point, strokes in the order they were drawn.

`check_handwritten_signature` refuses an empty pad, a scribble, and ink whose number of written
characters differs from the number of characters of the name. Characters are found from the
strokes alone, without recognising what is written (`segment_characters`):

1. Segments, in writing order. A stroke that lies mostly to the right of the segment being
   written, overlapping it by at most `OVERLAP` of the ink height, starts a new segment. A stroke
   clear of it that lies over an earlier segment goes back to that one (a dot added afterwards);
   any other stroke joins the current segment. Writing order is what keeps two characters apart
   when they slightly overlap: the overlapping strokes belong to the character written first.
2. Characters. A segment may be a whole character or a component of one (日 and 月 of 明, 弓 and
   长 of 张, each stroke of 川). Neighbouring segments are grouped so that each group is about as
   wide as a character is tall (`ASPECT`) with little blank space inside it: dynamic programming
   finds the grouping of least cost, `SHAPE_COST` × the squared log-distance of each group's
   width from `ASPECT` (beyond `ASPECT_SLACK`) plus `GAP_COST` × the blank space inside the groups,
   both measured in character heights. So 日|月 (two half-width parts, a small gap) are one
   character, while 卜 beside 王 (a narrow character, a real gap) stay two.

The character height is the median height of the segments at least `TALL` of the ink height,
so a line of writing that drifts up or down does not make every character look narrow.

The check sees the same strokes the same way whatever the pad's size (elder mode's pad is taller,
a tablet's wider): the ink is first scaled to a pad `REFERENCE_PAD_WIDTH` wide (`normalised`), so
the pixel thresholds mean the same on every pad, and the characters are found on the ink scaled to
its own bounding box (`_boxed`), so nothing of the segmentation depends on pixels at all.
"""

from __future__ import annotations

import io
import json
import math
import statistics
from dataclasses import dataclass
from typing import Any

from huibao.core.errors import FieldError, ValidationFailed

FIELD = "signature"

# Limits of what the pad may send (a generous signature has a few hundred points).
MAX_RAW_CHARS = 400_000
MAX_STROKES = 200
MAX_POINTS = 5_000
MAX_CANVAS_PX = 4_096
MAX_DURATION_MS = 3_600_000

# Scribble thresholds.
MIN_POINTS = 12
MIN_INK_PX = 24  # the ink must be at least this tall or wide, in CSS pixels
MIN_INK_SHARE = 0.12  # ... and at least this share of the canvas width or height
MIN_THICKNESS = 0.08  # minor / major spread of all points; below it the ink is a straight line

# Every ink is checked as if drawn on a pad this wide (CSS px; the standard phone pad's width).
REFERENCE_PAD_WIDTH = 340
REFERENCE_PAD_HEIGHT = 200
# The ink's bounding box height the segmentation works in.
BOX_HEIGHT = 100.0

# Character segmentation, as fractions of the character height (see the module docstring).
OVERLAP = 0.2
TOUCH = 0.05
TALL = 0.5
ASPECT = 0.85  # width / height of a typical handwritten character
ASPECT_SLACK = 0.15  # log-ratio around ASPECT that costs nothing (0.73-0.99)
SHAPE_COST_MAX = 25.0
SHAPE_COST = 4.0
GAP_COST = 2.0
MAX_GROUP = 12  # segments in one character

# Name separators that are not written as characters (买买提·艾力).
_NAME_SEPARATORS = frozenset(" \t·•・.-")

Point = tuple[float, float, float]
Stroke = tuple[Point, ...]


@dataclass(frozen=True)
class SignatureInk:
    """Strokes drawn on a `width` × `height` CSS-pixel canvas, in drawing order."""

    width: int
    height: int
    strokes: tuple[Stroke, ...]

    @property
    def point_count(self) -> int:
        return sum(len(stroke) for stroke in self.strokes)

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of all points; the ink must not be empty."""
        xs = [p[0] for stroke in self.strokes for p in stroke]
        ys = [p[1] for stroke in self.strokes for p in stroke]
        return min(xs), min(ys), max(xs), max(ys)

    def as_dict(self) -> dict[str, Any]:
        """The wire format, e.g. to keep the ink as evidence next to the PNG."""
        return {
            "width": self.width,
            "height": self.height,
            "strokes": [[list(p) for p in stroke] for stroke in self.strokes],
        }


def _refuse(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(FIELD, code, message)])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_strokes(raw: str | dict[str, Any]) -> SignatureInk:
    """Validate what the pad sent; raises `ValidationFailed` on the `signature` field.

    Codes: `empty` (nothing sent), `malformed`, `too_many_points`, `out_of_range`.
    Strokes without points are dropped; an ink with no strokes is returned (the check refuses it).
    """
    if isinstance(raw, str):
        if len(raw) > MAX_RAW_CHARS:
            raise _refuse("too_many_points", "签名数据过多，请清除后重新签名")
        if not raw.strip():
            raise _refuse("empty", "请先在签名框内签名")
        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except ValueError:
            raise _refuse("malformed", "签名数据无法识别，请清除后重新签名") from None
    else:
        data = raw
    malformed = _refuse("malformed", "签名数据无法识别，请清除后重新签名")
    if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
        raise malformed
    width, height = data.get("width"), data.get("height")
    if not isinstance(width, int) or not isinstance(height, int):
        raise malformed
    if isinstance(width, bool) or isinstance(height, bool):
        raise malformed  # JSON true would pass as the int 1
    if not (0 < width <= MAX_CANVAS_PX and 0 < height <= MAX_CANVAS_PX):
        raise _refuse("out_of_range", "签名框尺寸无效，请刷新页面后重新签名")
    raw_strokes: list[Any] = data["strokes"]
    if len(raw_strokes) > MAX_STROKES:
        raise _refuse("too_many_points", "签名笔画过多，请清除后重新签名")
    strokes: list[Stroke] = []
    total = 0
    for raw_stroke in raw_strokes:
        if not isinstance(raw_stroke, list):
            raise malformed
        total += len(raw_stroke)
        if total > MAX_POINTS:
            raise _refuse("too_many_points", "签名笔画过多，请清除后重新签名")
        points: list[Point] = []
        for point in raw_stroke:
            if not isinstance(point, list) or len(point) != 3 or not all(_is_number(v) for v in point):
                raise malformed
            x, y, t = (float(v) for v in point)
            if not (0 <= x <= width and 0 <= y <= height and 0 <= t <= MAX_DURATION_MS):
                raise _refuse("out_of_range", "签名超出了签名框，请清除后重新签名")
            points.append((x, y, t))
        if points:
            strokes.append(tuple(points))
    return SignatureInk(width=width, height=height, strokes=tuple(strokes))


def _reject_constant(name: str) -> None:
    raise ValueError(name)  # NaN / Infinity are not JSON numbers


# --- The check ---------------------------------------------------------------------------------


def name_characters(name: str) -> str:
    """The characters of `name` one writes by hand (spaces and the middle dot left out)."""
    return "".join(ch for ch in name.strip() if ch not in _NAME_SEPARATORS)


def _is_han(ch: str) -> bool:
    code = ord(ch)
    return 0x3400 <= code <= 0x9FFF or 0x20000 <= code <= 0x3134F or 0xF900 <= code <= 0xFAFF


def _scaled(ink: SignatureInk, factor: float, dx: float = 0.0, dy: float = 0.0) -> SignatureInk:
    strokes = tuple(
        tuple((round((p[0] - dx) * factor, 3), round((p[1] - dy) * factor, 3), p[2]) for p in stroke)
        for stroke in ink.strokes
    )
    return SignatureInk(
        width=max(1, round(ink.width * factor)), height=max(1, round(ink.height * factor)), strokes=strokes
    )


def normalised(ink: SignatureInk) -> SignatureInk:
    """The ink as drawn on a pad `REFERENCE_PAD_WIDTH` wide (same shape, scaled uniformly)."""
    return _scaled(ink, REFERENCE_PAD_WIDTH / ink.width) if ink.width != REFERENCE_PAD_WIDTH else ink


def _boxed(ink: SignatureInk) -> SignatureInk:
    """The ink moved to its bounding box's corner and scaled to `BOX_HEIGHT` tall."""
    left, top, _right, bottom = ink.bounds()
    return _scaled(ink, BOX_HEIGHT / max(bottom - top, 1e-6), left, top)


def check_handwritten_signature(ink: SignatureInk, name: str) -> list[FieldError]:
    """Why the ink is not an acceptable signature of `name`; [] if it is. The same strokes get the
    same answer on a pad of any size (`normalised`, `_boxed`).

    Codes: `empty`, `scribble`, `character_count` (only for names written in Chinese characters;
    2-4 characters must match exactly, longer names within one character).
    """
    if not ink.strokes:
        return [FieldError(FIELD, "empty", "请先在签名框内签名")]
    ink = normalised(ink)
    scribble = _scribble_reason(ink)
    if scribble:
        return [FieldError(FIELD, "scribble", scribble)]
    chars = name_characters(name)
    if not chars or not all(_is_han(ch) for ch in chars):
        return []  # a name in Latin letters: no character count to compare with
    found = len(segment_characters(_boxed(ink)))
    expected = len(chars)
    if found == expected or (expected > 4 and abs(found - expected) <= 1):
        return []
    message = f"签名应为{expected}个字（{chars}），识别到{found}个字，请逐字正楷签写"
    return [FieldError(FIELD, "character_count", message)]


def _scribble_reason(ink: SignatureInk) -> str:
    if ink.point_count < MIN_POINTS or len(ink.strokes) < 2:
        return "签名过于简单，请用正楷逐字签写您的姓名"
    left, top, right, bottom = ink.bounds()
    ink_w, ink_h = right - left, bottom - top
    # Measured against the reference pad, not this one's height: a taller pad (elder mode) does
    # not ask the same hand to write bigger.
    too_small_w = ink_w < max(MIN_INK_PX, MIN_INK_SHARE * REFERENCE_PAD_WIDTH)
    too_small_h = ink_h < max(MIN_INK_PX, MIN_INK_SHARE * REFERENCE_PAD_HEIGHT)
    if too_small_w and too_small_h:
        return "签名太小，请在签名框内写大一些"
    if _thickness(ink) < MIN_THICKNESS:
        return "签名不能是一条直线，请用正楷逐字签写您的姓名"
    return ""


def _thickness(ink: SignatureInk) -> float:
    """Spread of all points across their main direction relative to along it (0 = a straight line)."""
    points = [(p[0], p[1]) for stroke in ink.strokes for p in stroke]
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points) / n
    syy = sum((p[1] - my) ** 2 for p in points) / n
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points) / n
    # Eigenvalues of the 2x2 covariance matrix.
    half_trace = (sxx + syy) / 2
    root = math.sqrt(max(half_trace**2 - (sxx * syy - sxy**2), 0.0))
    major, minor = half_trace + root, max(half_trace - root, 0.0)
    return math.sqrt(minor / major) if major > 0 else 0.0


@dataclass
class _Segment:
    left: float
    right: float
    top: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def overlap(self, left: float, right: float) -> float:
        return min(self.right, right) - max(self.left, left)

    def add(self, other: _Segment) -> None:
        self.left, self.right = min(self.left, other.left), max(self.right, other.right)
        self.top, self.bottom = min(self.top, other.top), max(self.bottom, other.bottom)


def segment_characters(ink: SignatureInk) -> list[tuple[float, float]]:
    """Left and right edges of each written character, from left to right (see the module doc)."""
    if not ink.strokes:
        return []
    _, top, _, bottom = ink.bounds()
    ink_height = max(bottom - top, 1.0)
    segments: list[_Segment] = []
    current: _Segment | None = None
    for stroke in ink.strokes:
        box = _Segment(
            min(p[0] for p in stroke),
            max(p[0] for p in stroke),
            min(p[1] for p in stroke),
            max(p[1] for p in stroke),
        )
        if current is None:
            current = box
            segments.append(current)
            continue
        overlap = current.overlap(box.left, box.right)
        mostly_right = box.right - current.right >= 0.5 * box.width
        if mostly_right and overlap <= OVERLAP * ink_height and overlap < 0.5 * min(box.width, current.width):
            current = box
            segments.append(current)
            continue
        if overlap < -TOUCH * ink_height:
            # Away from the character being written: going back to an earlier one (a dot added
            # later) if it lies over it, else still a part of this one (the left dot of 小).
            earlier = [s for s in segments if s.overlap(box.left, box.right) > 0.5 * min(s.width, box.width)]
            if earlier:
                current = max(earlier, key=lambda s: s.overlap(box.left, box.right))
        current.add(box)
    segments = _merge_overlapping(sorted(segments, key=lambda s: s.left))
    char_height = _character_height(segments, ink_height)
    return [(s.left, s.right) for s in _group(segments, char_height)]


def _merge_overlapping(segments: list[_Segment]) -> list[_Segment]:
    """Merge segments (sorted by left edge) that overlap by more than half the narrower one."""
    out: list[_Segment] = []
    for segment in segments:
        if out and out[-1].overlap(segment.left, segment.right) > 0.5 * min(out[-1].width, segment.width):
            out[-1].add(segment)
        else:
            out.append(segment)
    return out


def _character_height(segments: list[_Segment], ink_height: float) -> float:
    tall = [s.height for s in segments if s.height >= TALL * ink_height]
    return max(statistics.median(tall) if tall else ink_height, 1.0)


def _group(segments: list[_Segment], char_height: float) -> list[_Segment]:
    """Group neighbouring segments (sorted by left edge) into characters at the least cost.

    A group costs `_shape_cost` of its width plus `GAP_COST` per character height of blank space
    inside it; dynamic programming over the cut points finds the cheapest grouping.
    """
    n = len(segments)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(math.inf, 0)] * n  # (cost, start of last group)
    for end in range(1, n + 1):
        for start in range(max(end - MAX_GROUP, 0), end):
            right, blank = segments[start].right, 0.0
            for segment in segments[start + 1 : end]:
                blank += max(0.0, segment.left - right)
                right = max(right, segment.right)
            width = (right - segments[start].left) / char_height
            cost = best[start][0] + SHAPE_COST * _shape_cost(width) + GAP_COST * blank / char_height
            if cost < best[end][0]:
                best[end] = (cost, start)
    groups: list[_Segment] = []
    end = n
    while end > 0:
        start = best[end][1]
        first = segments[start]
        group = _Segment(first.left, first.right, first.top, first.bottom)
        for segment in segments[start + 1 : end]:
            group.add(segment)
        groups.append(group)
        end = start
    return groups[::-1]


def _shape_cost(width: float) -> float:
    """0 for a character about as wide as tall, growing with the log of how much narrower or wider."""
    if width <= 0:
        return SHAPE_COST_MAX
    return min(max(0.0, abs(math.log(width / ASPECT)) - ASPECT_SLACK) ** 2, SHAPE_COST_MAX)


# --- Rendering ---------------------------------------------------------------------------------

PNG_SCALE = 2.0  # output pixels per CSS pixel (300 px for a 150 px wide signature ≈ 190 dpi at 40 mm)
PNG_MAX_SIDE = 1600
PNG_MARGIN_PX = 8  # CSS pixels of margin around the ink
PNG_PEN_PX = 2.5  # CSS pixels of pen width
_SUPERSAMPLE = 4


def render_signature_png(ink: SignatureInk) -> bytes:
    """A PNG of the ink: black, smoothed strokes on a transparent background, trimmed with a margin.

    Raises ValueError for an ink without strokes (check it first).
    """
    from PIL import Image, ImageDraw

    if not ink.strokes:
        raise ValueError("an empty signature has nothing to render")
    left, top, right, bottom = ink.bounds()
    margin = PNG_MARGIN_PX + PNG_PEN_PX / 2
    span_w, span_h = right - left + 2 * margin, bottom - top + 2 * margin
    scale = min(PNG_SCALE, PNG_MAX_SIDE / max(span_w, span_h))
    out_w, out_h = max(1, round(span_w * scale)), max(1, round(span_h * scale))
    k = scale * _SUPERSAMPLE
    # Draw on a large grey mask and shrink it: Pillow draws lines without anti-aliasing.
    mask = Image.new("L", (out_w * _SUPERSAMPLE, out_h * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(mask)
    pen = max(1, round(PNG_PEN_PX * k))
    for stroke in ink.strokes:
        points = [((p[0] - left + margin) * k, (p[1] - top + margin) * k) for p in stroke]
        path = _smooth(points)
        if len(path) > 1:
            draw.line(path, fill=255, width=pen, joint="curve")
        for x, y in (path[0], path[-1]):  # round caps (and a dot for a one-point stroke)
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    alpha = mask.resize((out_w, out_h), Image.Resampling.LANCZOS)
    image = Image.new("RGBA", (out_w, out_h), (0, 0, 0, 0))
    image.putalpha(alpha)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _smooth(points: list[tuple[float, float]], steps: int = 6) -> list[tuple[float, float]]:
    """Quadratic curves through the midpoints of successive points (as the pad draws them)."""
    if len(points) < 3:
        return points
    out = [points[0]]
    for i in range(1, len(points) - 1):
        (x0, y0), (cx, cy), (x2, y2) = points[i - 1], points[i], points[i + 1]
        start = ((x0 + cx) / 2, (y0 + cy) / 2)
        end = ((cx + x2) / 2, (cy + y2) / 2)
        for s in range(1, steps + 1):
            t = s / steps
            a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t**2
            out.append((a * start[0] + b * cx + c * end[0], a * start[1] + b * cy + c * end[1]))
    out.append(points[-1])
    return out
