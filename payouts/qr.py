"""QR codes of LNURLs, as inline SVG for the login and withdraw screens and the API."""

import segno


def qr_svg(data: str) -> str:
    return segno.make(data, error="m").svg_inline(scale=5, border=2, dark="#111")
