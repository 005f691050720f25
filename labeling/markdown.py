"""Batch instructions are Markdown written by requesters; render it without letting HTML in.

Images become links (`![alt](url)` renders as `<a href="url">alt</a>`): a remote image would
tell its host who reads the instructions, and when.
"""

import html
import re
from functools import lru_cache

import markdown
from markdown import inlinepatterns as patterns

_UNSAFE_HREF = re.compile(r'href="(?!https?:|mailto:|#)[^"]*"', re.IGNORECASE)


@lru_cache(maxsize=256)
def render_markdown(text: str) -> str:
    md = markdown.Markdown(extensions=["sane_lists"])
    # The image patterns, read by the link processors: same syntax, an <a> instead of <img>.
    md.inlinePatterns.register(
        patterns.LinkInlineProcessor(patterns.IMAGE_LINK_RE, md), "image_link", 150
    )
    md.inlinePatterns.register(
        patterns.ReferenceInlineProcessor(patterns.IMAGE_REFERENCE_RE, md), "image_reference", 140
    )
    md.inlinePatterns.register(
        patterns.ShortReferenceInlineProcessor(patterns.IMAGE_REFERENCE_RE, md),
        "short_image_ref",
        125,
    )
    rendered = md.convert(html.escape(text, quote=False))
    return _UNSAFE_HREF.sub('href="#"', rendered)
