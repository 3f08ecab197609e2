"""The pages' accessibility, checked without a browser: every form field in every template has a label, and every
text colour of the stylesheet has a contrast ratio of at least 4.5:1 on the background it is used on."""

import re
from importlib import resources

import pytest

from tests.a11y import MIN_CONTRAST, contrast, unlabelled_fields

WEB = resources.files("pipeline.access.web")
TEMPLATES = sorted(p.name for p in WEB.joinpath("templates").iterdir() if p.name.endswith(".html"))
CSS = WEB.joinpath("static/site.css").read_text(encoding="utf-8")


def css_rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule, with var(--x) resolved from :root."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = [(sel.strip(), dict((k.strip(), v.strip()) for k, _, v in (d.partition(":") for d in body.split(";"))
                                if k.strip())) for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)]
    variables = next(decls for sel, decls in rules if sel == ":root")

    def resolve(value: str) -> str:
        return re.sub(r"var\((--[\w-]+)\)", lambda m: variables[m.group(1)], value)

    return [(sel, {k: resolve(v) for k, v in decls.items()}) for sel, decls in rules if sel != ":root"]


def colour_pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule that sets either; the other comes from the page."""
    rules = css_rules(CSS)
    page = dict(rules)["body"]
    pairs = []
    for selector, decls in rules:
        background = decls.get("background-color") or decls.get("background")
        if "color" in decls or background:
            fg, bg = decls.get("color", page["color"]), background or page["background"]
            # 'inherit' takes an ancestor's colour: the page's, statically (no rule between sets one)
            pairs.append((selector, page["color"] if fg == "inherit" else fg,
                          page["background"] if bg == "inherit" else bg))
    return pairs


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_form_field_of_every_template_has_a_label(template):
    assert unlabelled_fields(WEB.joinpath("templates", template).read_text(encoding="utf-8")) == []


def test_every_text_colour_of_the_stylesheet_reaches_the_contrast_minimum_on_its_background():
    pairs = colour_pairs()
    assert len(pairs) > 15  # the check sees the stylesheet's colours, not an empty list
    weak = [(sel, fg, bg, round(contrast(fg, bg), 2)) for sel, fg, bg in pairs if contrast(fg, bg) < MIN_CONTRAST]
    assert weak == []


def test_the_label_check_finds_a_field_without_a_label():
    assert unlabelled_fields('<label for="a">案号</label><input id="a"><input id="b" name="b">') == ["<input b>"]


def test_the_contrast_check_rejects_light_grey_on_white():
    assert contrast("#999999", "#ffffff") < MIN_CONTRAST <= contrast("#595959", "#ffffff")
