"""Synthetic handwriting: names written stroke by stroke, as the signature pad would record them.

Each glyph is a list of strokes in a unit box (x to the right, y down), in writing order, with the
components of left-right characters (弓|长, 日|月, 木|木 …) kept apart as they are on paper.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

Polyline = list[tuple[float, float]]

GLYPHS: dict[str, list[Polyline]] = {
    "张": [
        [(0.05, 0.1), (0.35, 0.1), (0.35, 0.35), (0.08, 0.35)],
        [(0.08, 0.35), (0.05, 0.6), (0.35, 0.6), (0.33, 0.95), (0.22, 0.9)],
        [(0.6, 0.05), (0.6, 0.7), (0.75, 0.6)],
        [(0.9, 0.1), (0.65, 0.4)],
        [(0.48, 0.5), (0.98, 0.5)],
        [(0.62, 0.55), (0.95, 0.95)],
    ],
    "三": [
        [(0.1, 0.15), (0.9, 0.15)],
        [(0.2, 0.5), (0.8, 0.5)],
        [(0.05, 0.88), (0.95, 0.88)],
    ],
    "丰": [
        [(0.15, 0.2), (0.85, 0.2)],
        [(0.2, 0.48), (0.8, 0.48)],
        [(0.08, 0.75), (0.92, 0.75)],
        [(0.5, 0.02), (0.5, 0.98)],
    ],
    "明": [
        [(0.05, 0.2), (0.05, 0.8)],
        [(0.05, 0.2), (0.38, 0.2), (0.38, 0.8)],
        [(0.05, 0.5), (0.38, 0.5)],
        [(0.05, 0.8), (0.38, 0.8)],
        [(0.6, 0.05), (0.58, 0.7), (0.48, 0.95)],
        [(0.6, 0.05), (0.92, 0.05), (0.92, 0.9), (0.85, 0.95)],
        [(0.6, 0.35), (0.92, 0.35)],
        [(0.6, 0.62), (0.92, 0.62)],
    ],
    "李": [
        [(0.1, 0.25), (0.9, 0.25)],
        [(0.5, 0.02), (0.5, 0.5)],
        [(0.48, 0.3), (0.15, 0.5)],
        [(0.52, 0.3), (0.88, 0.5)],
        [(0.25, 0.58), (0.75, 0.58), (0.5, 0.7)],
        [(0.5, 0.7), (0.5, 0.98), (0.4, 0.94)],
        [(0.08, 0.78), (0.92, 0.78)],
    ],
    "小": [
        [(0.5, 0.05), (0.5, 0.9), (0.4, 0.85)],
        [(0.25, 0.4), (0.12, 0.7)],
        [(0.72, 0.4), (0.88, 0.68)],
    ],
    "川": [
        [(0.3, 0.05), (0.28, 0.6), (0.12, 0.95)],
        [(0.52, 0.1), (0.52, 0.85)],
        [(0.85, 0.02), (0.85, 0.98)],
    ],
    "林": [
        [(0.04, 0.3), (0.44, 0.3)],
        [(0.24, 0.05), (0.24, 0.95)],
        [(0.22, 0.35), (0.04, 0.7)],
        [(0.26, 0.4), (0.44, 0.55)],
        [(0.52, 0.3), (0.96, 0.3)],
        [(0.74, 0.05), (0.74, 0.95)],
        [(0.72, 0.35), (0.52, 0.75)],
        [(0.76, 0.35), (0.98, 0.8)],
    ],
    "欧": [
        [(0.05, 0.1), (0.42, 0.1)],
        [(0.05, 0.1), (0.05, 0.9), (0.45, 0.9)],
        [(0.15, 0.3), (0.38, 0.7)],
        [(0.38, 0.3), (0.15, 0.7)],
        [(0.6, 0.05), (0.52, 0.35)],
        [(0.58, 0.2), (0.95, 0.2), (0.88, 0.35)],
        [(0.75, 0.3), (0.72, 0.6), (0.5, 0.95)],
        [(0.75, 0.55), (0.98, 0.95)],
    ],
    "阳": [
        [(0.08, 0.05), (0.3, 0.05), (0.18, 0.3), (0.32, 0.5), (0.15, 0.6)],
        [(0.08, 0.05), (0.08, 0.95)],
        [(0.42, 0.15), (0.42, 0.85)],
        [(0.42, 0.15), (0.9, 0.15), (0.9, 0.85)],
        [(0.42, 0.5), (0.9, 0.5)],
        [(0.42, 0.85), (0.9, 0.85)],
    ],
    "晓": [
        [(0.04, 0.25), (0.04, 0.75)],
        [(0.04, 0.25), (0.3, 0.25), (0.3, 0.75)],
        [(0.04, 0.5), (0.3, 0.5)],
        [(0.04, 0.75), (0.3, 0.75)],
        [(0.4, 0.2), (0.95, 0.15)],
        [(0.65, 0.02), (0.6, 0.45)],
        [(0.45, 0.35), (0.9, 0.3)],
        [(0.38, 0.55), (0.98, 0.55)],
        [(0.58, 0.55), (0.52, 0.8), (0.4, 0.95)],
        [(0.75, 0.55), (0.75, 0.9), (0.98, 0.92)],
    ],
    "王": [
        [(0.12, 0.12), (0.88, 0.12)],
        [(0.2, 0.5), (0.8, 0.5)],
        [(0.05, 0.9), (0.95, 0.9)],
        [(0.5, 0.12), (0.5, 0.9)],
    ],
}


def write(
    text: str,
    *,
    size: float = 70,
    spacing: float = 0.25,
    drift: float = 0.0,
    canvas: tuple[int, int] = (340, 200),
    origin: tuple[float, float] = (15, 50),
    seed: int = 1,
    step: float = 4.0,
) -> dict[str, Any]:
    """The pad's JSON for `text` written left to right: characters `size` px tall, `spacing`
    (a share of `size`, negative for overlapping characters) between their boxes, each character
    `drift` × `size` lower than the one before, with a little hand tremor; a point every `step` px."""
    rng = random.Random(seed)
    strokes: list[list[list[float]]] = []
    t = 0.0
    for i, ch in enumerate(text):
        left = origin[0] + i * size * (1 + spacing)
        top = origin[1] + i * size * drift
        for polyline in GLYPHS[ch]:
            points = [(left + x * size, top + y * size) for x, y in polyline]
            stroke: list[list[float]] = []
            for x, y in _sample(points, step=step):
                x = min(max(x + rng.uniform(-0.6, 0.6), 0), canvas[0])
                y = min(max(y + rng.uniform(-0.6, 0.6), 0), canvas[1])
                stroke.append([round(x, 1), round(y, 1), round(t)])
                t += 16
            strokes.append(stroke)
            t += 180
        t += 400
    return {"width": canvas[0], "height": canvas[1], "strokes": strokes}


def _sample(points: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    out = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
        out.extend((x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1))
    return out


def stroke(*points: tuple[float, float], step: float = 4.0, t0: float = 0) -> list[list[float]]:
    """One free-hand stroke through `points` (for scribbles)."""
    return [[round(x, 1), round(y, 1), t0 + 16 * i] for i, (x, y) in enumerate(_sample(list(points), step))]
