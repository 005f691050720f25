"""Batch instructions: Markdown without HTML, unsafe links or remote images."""

from labeling.markdown import render_markdown


def test_images_become_links_and_load_nothing() -> None:
    html = render_markdown(
        '![pixel](https://evil.example/p.png) ![ref][r] ![r]\n\n[r]: https://evil.example/q.png "t"'
    )
    assert "<img" not in html and "src=" not in html
    assert '<a href="https://evil.example/p.png">pixel</a>' in html
    assert '<a href="https://evil.example/q.png" title="t">ref</a>' in html


def test_raw_html_and_unsafe_links_stay_inert() -> None:
    html = render_markdown(
        '<img src="https://evil.example/p.png"> [x](javascript:alert(1)) ![y](data:image/png,AA)'
    )
    assert "<img" not in html and "&lt;img" in html
    assert html.count('href="#"') == 2
    assert render_markdown("**bold** [ok](https://example.org)") == (
        '<p><strong>bold</strong> <a href="https://example.org">ok</a></p>'
    )
