"""Accessibility checks shared by the page tests: WCAG contrast ratios, and labels of form fields (static, in the
templates, and live, in the browser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

MIN_CONTRAST = 4.5  # WCAG 2.1 AA for normal text


def parse_colour(text: str) -> tuple[float, float, float]:
    """#rgb, #rrggbb or rgb()/rgba() (opaque) as 0-255 components."""
    text = text.strip().lower()
    if text.startswith("#"):
        digits = text[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
    found = re.fullmatch(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", text)
    if not found:
        raise ValueError(f"not a colour: {text!r}")
    if found.group(4) is not None and float(found.group(4)) < 1:
        raise ValueError(f"translucent colour {text!r}: its contrast depends on what is behind it")
    return tuple(float(found.group(i)) for i in (1, 2, 3))


def luminance(rgb: tuple[float, float, float]) -> float:
    """Relative luminance (WCAG 2.1)."""
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    """The contrast ratio of two colours, 1 to 21."""
    a, b = sorted((luminance(parse_colour(fg)), luminance(parse_colour(bg))), reverse=True)
    return (a + 0.05) / (b + 0.05)


class _Fields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, dict]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit", "button"):
            self.fields.append((tag, {**attrs, "_inside_label": self.open_labels > 0}))

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels -= 1


def unlabelled_fields(html: str) -> list[str]:
    """Form fields of a page (or template) with no label: no <label for=id>, no enclosing label, no aria-label."""
    parser = _Fields()
    parser.feed(html)
    return [f"<{tag} {attrs.get('name', '')}>" for tag, attrs in parser.fields
            if not (attrs.get("id") in parser.label_for or attrs["_inside_label"] or attrs.get("aria-label")
                    or attrs.get("aria-labelledby"))]


LIVE_CHECK = """() => {
  const unlabelled = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'submit', 'button'].includes(el.type)) continue;
    const byFor = el.id && document.querySelector(`label[for="${el.id}"]`);
    if (!(byFor || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
      unlabelled.push(el.outerHTML.slice(0, 80));
  }
  const pairs = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    const el = walker.currentNode.parentElement;
    if (!text || !el) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width <= 1 || box.height <= 1 || box.right < 0 || style.visibility === 'hidden') continue;
    let bg = null;
    for (let e = el; e && !bg; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && c !== 'transparent' && c !== 'rgba(0, 0, 0, 0)') bg = c;
    }
    pairs.push([style.color, bg || 'rgb(255, 255, 255)', text.slice(0, 40)]);
  }
  return {unlabelled, pairs};
}"""


def live_problems(page) -> list[str]:
    """What the rendered page in the browser fails: unlabelled fields, text below the contrast minimum."""
    found = page.evaluate(LIVE_CHECK)
    problems = [f"{page.url}: unlabelled {html}" for html in found["unlabelled"]]
    for fg, bg, text in found["pairs"]:
        ratio = contrast(fg, bg)
        if ratio < MIN_CONTRAST:
            problems.append(f"{page.url}: {text!r} {fg} on {bg} has contrast {ratio:.2f}")
    return problems
