"""Measure e-policy rendering and signing: `python -m huibao.esign.bench [seconds]`.

Uses a throw-away CA in a temporary directory; prints documents per second for render only,
sign only and render + sign of a two-page e-policy-like document, on one core.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable

from huibao.esign.pdf import Section


def signature_png() -> bytes:
    """A small handwritten-looking stroke, as the signature pad would send it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line(
        [(10, 70), (60, 20), (90, 80), (140, 30), (200, 75), (280, 25)], fill=(20, 20, 90, 255), width=4
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sample_policy(pages_of_terms: int = 1) -> tuple[str, list[Section]]:
    """An e-policy-like document: schedule table, ~1 page of terms per `pages_of_terms`, signature, QR."""
    clause = (
        "在保险期间内，被保险人因遭受意外伤害事故，并自事故发生之日起一百八十日内以该事故为直接且单独的原因"
        "身故的，保险人按保险单所载该被保险人意外伤害保险金额给付身故保险金，对该被保险人的保险责任终止。"
    )
    return "汇保电子保险单", [
        Section(
            heading="保单信息",
            table=(
                ("保单号", "HB-2025-000123456"),
                ("产品名称", "汇保综合意外险（互联网专属）"),
                ("投保人", "张*明"),
                ("被保险人", "张*明"),
                ("保险期间", "2025年01月01日零时起至2025年12月31日二十四时止"),
                ("保险金额", "人民币 500,000.00 元"),
                ("保费", "人民币 128.00 元"),
            ),
        ),
        Section(
            heading="保险条款摘要",
            paragraphs=tuple(f"第{i + 1}条 {clause}" for i in range(16 * pages_of_terms)),
        ),
        Section(heading="投保人签名", image_png=signature_png()),
        Section(heading="保单验真", qr_url="https://huibao.example/verify/HB-2025-000123456"),
    ]


def _rate(label: str, fn: Callable[[], object], seconds: float) -> None:
    fn()  # warm-up: font and key loading
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    elapsed = time.perf_counter() - start
    print(f"{label:<16} {count / elapsed:7.1f}/s  ({1000 * elapsed / count:.1f} ms each)")


def main(seconds: float) -> None:
    import django

    with tempfile.TemporaryDirectory() as var_dir:
        os.environ["HUIBAO_VAR_DIR"] = var_dir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
        django.setup()
        from huibao.esign.pdf import render_pdf, sign_pdf, verify_pdf

        title, sections = sample_policy()
        pdf = render_pdf(title, sections)
        signed = sign_pdf(pdf, reason="出单")
        print(f"document: {len(pdf)} bytes, signed {len(signed)} bytes, valid={verify_pdf(signed).valid}")
        _rate("render", lambda: render_pdf(title, sections), seconds)
        _rate("sign", lambda: sign_pdf(pdf, reason="出单"), seconds)
        _rate("render + sign", lambda: sign_pdf(render_pdf(title, sections), reason="出单"), seconds)
        _rate("verify", lambda: verify_pdf(signed), seconds)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
