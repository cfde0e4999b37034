"""Measure e-policy rendering and signing: `python -m huibao.esign.bench [seconds] [--processes N]`.

Uses a throw-away CA in a temporary directory. For a two-page e-policy-like document it prints the
median time and the rate of render, sign, render + sign and verify in this process, then the
rate of render + sign in a pool of N worker processes (default: one per core), each running its
own loop for the same time.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache

from huibao.esign.pdf import Section


@cache
def signature_png() -> bytes:
    """A small handwritten-looking stroke, as the signature pad would send it (built once)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line(
        [(10, 70), (60, 20), (90, 80), (140, 30), (200, 75), (280, 25)], fill=(20, 20, 90, 255), width=4
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sample_policy(pages_of_terms: int = 1, number: int = 123456) -> tuple[str, list[Section]]:
    """An e-policy-like document: schedule table, ~1 page of terms per `pages_of_terms`, signature, QR."""
    clause = (
        "在保险期间内，被保险人因遭受意外伤害事故，并自事故发生之日起一百八十日内以该事故为直接且单独的原因"
        "身故的，保险人按保险单所载该被保险人意外伤害保险金额给付身故保险金，对该被保险人的保险责任终止。"
    )
    policy_no = f"HB-2025-{number:09d}"
    return "汇保电子保险单", [
        Section(
            heading="保单信息",
            table=(
                ("保单号", policy_no),
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
        Section(heading="保单验真", qr_url=f"https://huibao.example/verify/{policy_no}"),
    ]


def _measure(label: str, fn: Callable[[int], object], seconds: float) -> None:
    fn(0)  # warm-up: font, key and CMS template loading
    durations: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn(len(durations) + 1)
        durations.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    median = 1000 * statistics.median(durations)
    print(f"{label:<14} median {median:6.1f} ms   {len(durations) / elapsed:6.1f}/s")


def _issue(number: int) -> bytes:
    """Render and sign one e-policy; every number gives a different policy number and QR code."""
    from huibao.esign.pdf import render_pdf, sign_pdf

    return sign_pdf(render_pdf(*sample_policy(number=number)), reason="出单")


def _worker(seconds: float) -> int:
    _issue(0)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count += 1
        _issue(count)
    return count


def main(seconds: float, processes: int) -> None:
    with tempfile.TemporaryDirectory() as var_dir:
        # Only settings are read (VAR_DIR, the key passphrase): no django.setup() needed.
        os.environ["HUIBAO_VAR_DIR"] = var_dir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
        from huibao.esign.ca import ensure_platform_ca
        from huibao.esign.pdf import render_pdf, sign_pdf, verify_pdf

        ensure_platform_ca()  # once, before any worker starts
        pdf = render_pdf(*sample_policy())
        signed = sign_pdf(pdf, reason="出单")
        print(f"document: {len(pdf)} bytes, signed {len(signed)} bytes, valid={verify_pdf(signed).valid}")
        _measure("render", lambda n: render_pdf(*sample_policy(number=n)), seconds)
        _measure("sign", lambda n: sign_pdf(pdf, reason="出单"), seconds)
        _measure("render + sign", _issue, seconds)
        _measure("verify", lambda n: verify_pdf(signed), seconds)

        context = multiprocessing.get_context("fork")
        with context.Pool(processes) as pool:
            start = time.perf_counter()
            counts = pool.map(_worker, [seconds] * processes)
            elapsed = time.perf_counter() - start
        print(f"render + sign, {processes} processes: {sum(counts) / elapsed:6.1f}/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=5.0, help="per measurement")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(sys.argv[1:])
    main(args.seconds, args.processes)
