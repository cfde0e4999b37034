"""QR codes of invitation links: the one QR helper lives in `huibao.core.qr`."""

from huibao.core.qr import qr_svg

__all__ = ["qr_svg"]
