"""Rendering the web pages: the Jinja2 environment (templates shipped with the package, autoescaped), filters for
times in Beijing time, sizes and URLs, and the headers every page gets.

Every value a page shows passes :func:`shown` first: Unicode's bidirectional controls (the right-to-left override
U+202E and its kin) are printed as a visible ``[U+202E]`` instead of reordering what follows them, so that a
调卷函's free text cannot make a registrar read ``exe.txt`` where ``txt.exe`` is written, or reverse a name. The
stored text keeps them (the API returns it as filed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pipeline.access.desk import at_desk, desk_reason
from pipeline.access.requests import ACTION_LABELS, ROLE_LABELS, STATE_LABELS, STEP_LABELS
from pipeline.access.web._session import ANON_COOKIE
from pipeline.operations import event_kind_words, run_kind_words, run_state_words
from pipeline.storage import printed_case_no
from pipeline.structure import doubt_words

SECURITY_LABELS = {"public": "公开", "internal": "内部", "secret": "秘密", "confidential": "机密", "top-secret": "绝密"}
BEIJING = timezone(timedelta(hours=8), "北京时间")
CHINA_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC", "北京时间"})
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_VISIBLE = {ord(c): f"[U+{ord(c):04X}]" for c in BIDI_CONTROLS}


def shown(value: object) -> object:
    """A value as a page prints it: bidirectional controls made visible (see the module)."""
    return value.translate(_VISIBLE) if isinstance(value, str) else value


def _local(value: datetime | None, zone: tzinfo | None = None, with_time: bool = True) -> str:
    """A moment as every page shows it: 2026-12-07 09:05 in the zone given (the desk's), else Beijing time."""
    if value is None:
        return "—"
    shown = value.astimezone(zone or BEIJING)
    return shown.strftime("%Y-%m-%d %H:%M") if with_time else shown.strftime("%Y-%m-%d")


def zone_label(zone: tzinfo | None) -> str:
    """The name of the zone times are shown in, as people say it: 北京时间 for China's zone, else its IANA name."""
    name = getattr(zone, "key", None) or str(zone or BEIJING)
    return "北京时间" if zone is None or name in CHINA_ZONES else name


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} KB"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.access.web", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"], default=True), trim_blocks=True, lstrip_blocks=True,
                      finalize=shown)
    env.filters.update(local=_local, day=lambda v: _local(v, with_time=False), size=_size, zone_label=zone_label,
                       urlpart=lambda v: quote(str(v), safe=""),
                       case=lambda v: printed_case_no(str(v)))
    env.globals.update(SECURITY_LABELS=SECURITY_LABELS, STATE_LABELS=STATE_LABELS, STEP_LABELS=STEP_LABELS,
                       ACTION_LABELS=ACTION_LABELS, ROLE_LABELS=ROLE_LABELS, at_desk=at_desk,
                       doubt_words=doubt_words, desk_reason=desk_reason, event_kind_words=event_kind_words,
                       run_kind_words=run_kind_words, run_state_words=run_state_words)
    return env


ENV = _environment()


def render(request: Request, auth, template: str, status: int = 200, **context) -> HTMLResponse:
    """A page from a template, with the CSRF token for its forms (setting the anonymous cookie it is bound to when
    the browser has none yet) and the headers every page gets."""
    token, fresh = auth.csrf(request)
    html = ENV.get_template(template).render(csrf=token, who=context.pop("who", None), **context)
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    if fresh is not None:
        auth.set_cookie(response, request, ANON_COOKIE, fresh)
    return response
