"""Tiny server-rendered SVG charts for the requester dashboard and the worker's stats page
(no JavaScript)."""

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def progress_bar(value: float, maximum: float, caption: str) -> SafeString:
    """An accessible <progress> element followed by a caption (admin lists and pages)."""
    percent = min(100, round(100 * value / (maximum or 1)))
    return format_html(
        '<progress value="{}" max="{}" aria-label="{}%">{}%</progress> {}',
        value,
        maximum or 1,
        percent,
        percent,
        caption,
    )


def daily_bars(
    days: list[tuple[date, int]], *, label: str, unit: str, width: int = 360, height: int = 120
) -> SafeString:
    """One bar per day (msat, drawn in whole sats), oldest left; each bar's <title> names its
    day and amount, the axis shows the first and last day and the highest amount."""
    highest = max((msat for _, msat in days), default=0)
    top = highest or 1
    slot = width / max(1, len(days))
    plot = height - 30

    def bar(i: int, day: date, msat: int) -> tuple[str, ...]:
        tall = plot * msat / top
        return (_n(i * slot + 1), _n(14 + plot - tall), _n(max(1.0, slot - 2)), _n(tall),
                f"{day.isoformat()}: {msat // 1000} {unit}")  # fmt: skip

    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#b45309"><title>{}</title></rect>',
        (bar(i, day, msat) for i, (day, msat) in enumerate(days)),
    )
    first, last = (days[0][0], days[-1][0]) if days else (None, None)
    return format_html(
        '<svg viewBox="0 0 {w} {h}" role="img" aria-label="{label}">{bars}'
        '<line x1="0" y1="{base}" x2="{w}" y2="{base}" stroke="#4b5563"></line>'
        '<text x="0" y="10" font-size="10" fill="#4b5563">{top} {unit}</text>'
        '<text x="0" y="{foot}" font-size="10" fill="#4b5563">{first}</text>'
        '<text x="{w}" y="{foot}" font-size="10" fill="#4b5563" text-anchor="end">{last}</text>'
        "</svg>",
        w=width,
        h=height,
        label=label,
        bars=bars,
        base=_n(14 + plot + 0.5),
        top=highest // 1000,
        unit=unit,
        foot=height - 4,
        first=first.isoformat() if first else "",
        last=last.isoformat() if last else "",
    )


MIN_BAR = 2.0  # px


def _n(value: float) -> str:
    return f"{value:.1f}"


def bar_chart(
    bars: list[tuple[str, int]], *, empty: str, width: int = 360, height: int = 120
) -> SafeString:
    """Vertical bars with their labels underneath and counts on top; `empty` when every
    count is zero (five zero labels and no bars read as a broken chart)."""
    if not any(count for _, count in bars):
        return format_html('<p class="chart-empty">{}</p>', empty)
    top = max(count for _, count in bars)
    slot = width / len(bars)
    plot = height - 34

    def bar(i: int, label: str, count: int) -> tuple[str, ...]:
        # A non-zero count stays visible however tall the tallest bar is.
        size = max(MIN_BAR, plot * count / top) if count else 0
        y = 14 + plot - size
        middle = _n(i * slot + slot / 2)
        return (
            _n(i * slot + 2),
            _n(y),
            _n(slot - 4),
            _n(size),
            f"{label}: {count}",
            middle,
            _n(y - 2),
            str(count),
            middle,
            str(height - 6),
            label,
        )

    rects = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#b45309"><title>{}</title></rect>'
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
        (bar(i, label, count) for i, (label, count) in enumerate(bars)),
    )
    return format_html(
        '<svg class="bar-chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}">{}</svg>',
        width,
        height,
        width,
        height,
        ", ".join(f"{label}: {count}" for label, count in bars),
        rects,
    )


def sparkline(values: list[float], *, width: int = 160, height: int = 32) -> SafeString:
    """A line of values in 0..1 (trust over time), with a dot on the latest."""
    if not values:
        return format_html("{}", "-")
    step = width / max(1, len(values) - 1)

    def y(value: float) -> float:
        return (1 - value) * (height - 4) + 2

    points = " ".join(f"{_n(i * step)},{_n(y(v))}" for i, v in enumerate(values))
    return format_html(
        '<svg viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}">'
        '<polyline points="{}" fill="none" stroke="#1d4ed8" stroke-width="1.5"></polyline>'
        '<circle cx="{}" cy="{}" r="2.5" fill="#1d4ed8"></circle></svg>',
        width,
        height,
        width,
        height,
        f"trust now {values[-1]:.2f}",
        points,
        _n((len(values) - 1) * step),
        _n(y(values[-1])),
    )
