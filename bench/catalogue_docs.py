"""Documents of the catalogue benchmark and their ground truth: court, procuratorate and police documents, 笔录,
official documents after GB/T 9704-2012, a newspaper clipping, a 情况说明 signed at its end. Each builder returns the
pages to render and the 卷内目录 row a clerk would write for it (题名, 文号, 责任者, 日期 as ISO 8601, partial when the
document prints only year and month).

Layouts vary on purpose: authority names on one or two lines, titles spaced out or not, the case number centred or on
the right, signature blocks in one or two columns, seals over the date, page-number footers (- 1 -, 第1页 共N页) or none.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.catalogue_render import RED, Line, PageSpec

CN = "〇一二三四五六七八九"
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦许何吕施张孔曹严华金魏陶姜谢邹喻柏窦章苏潘葛范彭鲁马方俞任袁柳唐罗薛"
GIVEN = "建军海燕志强秀英国华丽娟文博晓东红梅子涵浩然雪松德明桂兰永胜玉珍春雷宏伟"
CLAUSES = [
    "经审理查明，{p}于{y}年{m}月间在{place}多次实施盗窃，窃得财物价值共计人民币{n}元",
    "上述事实，有被害人陈述、证人证言、现场勘验笔录、扣押物品清单等证据证实，足以认定",
    "本院认为，{p}以非法占有为目的，秘密窃取他人财物，数额较大，其行为已构成盗窃罪",
    "{p}到案后如实供述自己的罪行，依法可以从轻处罚，辩护人的相关意见予以采纳",
    "依照《中华人民共和国刑法》第二百六十四条、第六十七条第三款之规定，判决如下",
    "原告{p}诉称，双方于{y}年{m}月签订借款合同，被告至今未按约定归还借款本金及利息",
    "被告辩称，借款已部分归还，原告主张的利息计算标准过高，请求依法予以调整",
    "经侦查查明，{p}伙同他人于{y}年{m}月在{place}附近以虚构投资项目的方式骗取他人钱款",
    "案发后，办案民警依法将{p}抓获归案，并扣押作案工具手机一部、银行卡两张",
    "为进一步做好辖区矛盾纠纷排查化解工作，切实维护社会稳定，现将有关事项通知如下",
    "各单位要高度重视，明确责任分工，加强协调配合，确保各项工作任务落到实处",
]


@dataclass
class Doc:
    """A document to render and its truth."""

    kind: str
    pages: list[PageSpec]
    title: str
    doc_no: str
    author: str
    date: str  # ISO 8601, partial (YYYY-MM) when only year and month are printed, empty when none

    def truth(self) -> dict:
        """The 卷内目录 row of the document."""
        return {"kind": self.kind, "title": self.title, "doc_no": self.doc_no, "author": self.author,
                "date": self.date, "pages": len(self.pages)}


def cn_number(n: int) -> str:
    """Chinese numerals for 1..31 as dates print them: 三, 十, 十二, 二十, 二十一, 三十一."""
    if n < 10:
        return CN[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN[tens]) + "十" + (CN[ones] if ones else "")


def cn_date(y: int, m: int, d: int, zero: str = "〇") -> str:
    """二〇二二年一月四日 (or with 零 for 〇)."""
    return "".join(CN[int(c)] for c in str(y)).replace("〇", zero) + f"年{cn_number(m)}月{cn_number(d)}日"


def person(rng: random.Random) -> str:
    """A name: surname and one or two given characters."""
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def paragraphs(rng: random.Random, n: int, facts: dict) -> list[str]:
    """``n`` body paragraphs made of the clause pool, with the case's names filled in."""
    out = []
    for _ in range(n):
        k = rng.randint(2, 4)
        text = "；".join(rng.choice(CLAUSES) for _ in range(k)) + "。"
        out.append(text.format(p=facts["person"], y=facts["year"], m=rng.randint(1, 12), place=facts["place"],
                               n=rng.randint(2, 90) * 100))
    return out


def body_lines(text: str, per_line: int, size: float = 15.0) -> list[Line]:
    """A paragraph wrapped at ``per_line`` characters, first line indented by two characters."""
    lines, first = [], True
    while text:
        width = per_line - 2 if first else per_line
        chunk, text = text[:width], text[width:]
        lines.append(Line(chunk, size, "indent" if first else "left", space=0.7 if first else 0.45))
        first = False
    return lines


def spread(lines: list[Line], rng: random.Random, per_page: int = 26) -> list[list[Line]]:
    """Body lines cut into pages of at most ``per_page`` lines."""
    pages = [lines[i:i + per_page] for i in range(0, len(lines), per_page)]
    return pages or [[]]


def footers(pages: list[PageSpec], style: str) -> list[PageSpec]:
    """Number the pages: ``dash`` (- 1 -), ``of`` (第1页 共N页) or ``none``."""
    for i, p in enumerate(pages, 1):
        p.footer = {"dash": f"- {i} -", "of": f"第{i}页 共{len(pages)}页"}.get(style, "")
    return pages


def header_authority(name: str, split: int | None, size: float, colour=(20, 20, 22), face: str = "song") -> list[Line]:
    """The authority line above a title, on two lines when ``split`` says where to break it."""
    if split is None:
        return [Line(name, size, "centre", face, colour, space=0.2, bold=True)]
    return [Line(name[:split], size, "centre", face, colour, space=0.2, bold=True),
            Line(name[split:], size, "centre", face, colour, space=0.25, bold=True)]


def signature(rng: random.Random, authority: str, date_text: str, signers: list[str], two_columns: bool,
              seal_over_date: bool = True, authority_line: bool = False) -> tuple[list[Line], list[tuple[int, float]]]:
    """A signature block: signers (in one column on the right, or two columns), the authority's name when asked,
    the date, and where the seal goes (line index in the block, x offset)."""
    lines: list[Line] = []
    if two_columns and len(signers) >= 2:
        pairs = [signers[i:i + 2] for i in range(0, len(signers), 2)]
        for pair in pairs:
            lines.append(Line("　　" + pair[0], 15, "left", right=pair[1] if len(pair) > 1 else "", space=0.9))
    else:
        for s in signers:
            lines.append(Line(s, 15, "right", space=0.9))
    if authority_line:
        lines.append(Line(authority, 15, "right", space=1.6))
    lines.append(Line(date_text, 15, "right", space=0.9 if authority_line else 1.6))
    seal_at = len(lines) - 1 if seal_over_date else max(0, len(lines) - 2)
    return lines, [(seal_at, rng.uniform(-8, 4))]


def assemble(head: list[Line], body: list[Line], tail: list[Line], seals: list[tuple[int, float]], seal_text: str,
             rng: random.Random, footer: str, per_page: int = 24, rule_after: int | None = None) -> list[PageSpec]:
    """Head on the first page, body over as many pages as it takes, signature block at the end of the last."""
    first_room = max(4, per_page - len(head))
    chunks = [body[:first_room]] + spread(body[first_room:], rng, per_page) if len(body) > first_room else [body]
    chunks = [c for c in chunks if c] or [[]]
    if len(chunks[-1]) + len(tail) > per_page:
        chunks.append([])
    pages = []
    for i, chunk in enumerate(chunks):
        lines = (head if i == 0 else []) + chunk
        spec = PageSpec(lines, rule_after=rule_after if i == 0 else None)
        if i == len(chunks) - 1:
            offset = len(lines)
            spec.lines = lines + tail
            spec.seals = [(offset + k, dx, seal_text) for k, dx in seals]
        pages.append(spec)
    return footers(pages, footer)


def court_document(rng: random.Random, facts: dict, kind: str, court: str, case_no: str, date: tuple[int, int, int],
                   split: int | None = None, number_right: bool = True, spaced: bool = True,
                   two_columns: bool = False, body_paras: int = 7, footer: str = "none") -> Doc:
    """A court judgment or ruling: court name, title, case number, body, judges, date under the seal, clerk."""
    head = header_authority(court, split, 22)
    head.append(Line(kind, 26, "centre", "song", space=0.6, letter=0.5 if spaced else 0.0, bold=True))
    head.append(Line(case_no, 15, "right" if number_right else "centre", space=0.9))
    body = [ln for p in paragraphs(rng, body_paras, facts) for ln in body_lines(p, 27)]
    judges = ["审判长　" + person(rng), "审判员　" + person(rng), "人民陪审员　" + person(rng)]
    tail, seals = signature(rng, court, cn_date(*date, zero=rng.choice("〇〇零")), judges, two_columns)
    tail.append(Line("本件与原本核对无异", 12, "left", "kai", space=0.2))
    tail.append(Line("书记员　" + person(rng), 15, "right", space=0.9))
    pages = assemble(head, body, tail, seals, court, rng, footer)
    return Doc(kind, pages, kind, case_no, court, "{:04d}-{:02d}-{:02d}".format(*date))


def agency_document(rng: random.Random, facts: dict, kind: str, agency: str, doc_no: str, date: tuple[int, int, int],
                    split: int | None = None, number_right: bool = False, signer: str = "检察员",
                    arabic: bool = False, body_paras: int = 5, footer: str = "none", two_columns: bool = False,
                    authority_line: bool = False) -> Doc:
    """A procuratorate or police document (起诉书, 起诉意见书, 逮捕证, 决定书…): agency, title, 文号, body, signer, date."""
    head = header_authority(agency, split, 20)
    head.append(Line(kind, 26 if len(kind) <= 5 else 22, "centre", "song", space=0.5, bold=True))
    head.append(Line(doc_no, 15, "right" if number_right else "centre", space=0.8))
    body = [ln for p in paragraphs(rng, body_paras, facts) for ln in body_lines(p, 27)]
    y, m, d = date
    when = f"{y}年{m}月{d}日" if arabic else cn_date(y, m, d)
    signers = [f"{signer}　{person(rng)}"] + ([f"{signer}　{person(rng)}"] if two_columns else [])
    tail, seals = signature(rng, agency, when, signers, two_columns, authority_line=authority_line)
    pages = assemble(head, body, tail, seals, agency, rng, footer)
    return Doc(kind, pages, kind, doc_no, agency, "{:04d}-{:02d}-{:02d}".format(*date))


def record(rng: random.Random, facts: dict, kind: str, agency: str, when: tuple[int, int, int], two_columns: bool,
           pages: int = 2) -> Doc:
    """A 笔录: title, 时间/地点 lines (in two columns or not), the officers and their unit, questions and answers;
    no 文号; the 时间 line is its date and the recording unit its 责任者."""
    y, m, d = when
    start = f"{y}年{m}月{d}日{rng.randint(8, 15)}时{rng.randint(0, 5)}{rng.randint(0, 9)}分"
    end = f"{rng.randint(15, 18)}时{rng.randint(0, 5)}{rng.randint(0, 9)}分"
    place = facts["place"] + rng.choice(["派出所询问室", "办案中心讯问室", "刑侦大队办公室"])
    head = [Line(kind, 24, "centre", "hei", space=0.3, letter=0.3)]
    if two_columns:
        head.append(Line(f"时间：{start}至{end}", 14, "left", right=f"第{1}次", space=1.2))
    else:
        head.append(Line(f"时间：{start}至{end}", 14, "left", space=1.2))
    head.append(Line(f"地点：{place}", 14, "left"))
    who = "讯问人" if kind.startswith("讯问") else "询问人"
    head.append(Line(f"{who}：{person(rng)}、{person(rng)}　工作单位：{agency}", 14, "left"))
    head.append(Line(f"记录人：{person(rng)}", 14, "left"))
    qa = []
    for _ in range(pages * 9):
        q = rng.choice(["你把事情的经过讲一下。", "你对上述事实有无异议？", "案发当天你在什么地方？", "你还有什么要补充的吗？"])
        a = rng.choice(["我没有异议，以上说的都是事实。", "当天晚上我在家里睡觉，第二天早上才知道。",
                        "我和他认识好几年了，平时关系一般。", "没有了，我说的都是实话。"])
        qa += [Line("问：" + q, 14, "left", space=0.6), Line("答：" + a, 14, "left", space=0.4)]
    specs = []
    per = 22
    for i in range(pages):
        lines = (head if i == 0 else []) + qa[i * per:(i + 1) * per - (len(head) if i == 0 else 0)]
        lines.append(Line("以上笔录我看过，和我说的一样。", 14, "right", "kai", space=1.0))
        specs.append(PageSpec(lines, footer=f"第{i + 1}页 共{pages}页"))
    return Doc(kind, specs, kind, "", agency, "{:04d}-{:02d}-{:02d}".format(*when))


def official_document(rng: random.Random, facts: dict, agency: str, doc_no: str, title: str,
                      date: tuple[int, int, int], title_split: int | None = None) -> Doc:
    """A GB/T 9704-2012 official document: red 发文机关标志 (agency + 文件), 发文字号 centred over a red rule, the
    title (two lines when long), 主送机关, body, the agency's name and the 成文日期 in Arabic numerals under its seal."""
    head = [Line(agency + "文件", 34, "centre", "song", RED, space=0.6, letter=0.1, bold=True),
            Line(doc_no, 15, "centre", space=1.4)]
    rule = len(head) - 1
    if title_split:
        head += [Line(title[:title_split], 21, "centre", "song", space=1.2, bold=True),
                 Line(title[title_split:], 21, "centre", "song", space=0.3, bold=True)]
    else:
        head.append(Line(title, 21, "centre", "song", space=1.2, bold=True))
    head.append(Line("各乡镇人民政府，各街道办事处，区政府各部门：", 15, "left", space=1.0))
    body = [ln for p in paragraphs(rng, 3, facts) for ln in body_lines(p, 27)]
    y, m, d = date
    tail = [Line(agency, 15, "right", space=2.0), Line(f"{y}年{m}月{d}日", 15, "right", space=0.5)]
    pages = assemble(head, body, tail, [(1, -6.0)], agency, rng, "dash", rule_after=rule)
    return Doc("公文", pages, title, doc_no, agency, "{:04d}-{:02d}-{:02d}".format(*date))


def statement(rng: random.Random, facts: dict, kind: str, agency: str, date: tuple[int, int, int]) -> Doc:
    """A 情况说明 or 到案经过: a title alone at the top, the body, and the issuing unit only in the signature block."""
    head = [Line(kind, 24, "centre", "song", space=0.3, letter=0.8, bold=True)]
    body = [ln for p in paragraphs(rng, 2, facts) for ln in body_lines(p, 27)]
    body.append(Line("特此说明。", 15, "indent", space=0.7))
    tail, seals = signature(rng, agency, cn_date(*date), [], False, authority_line=True)
    pages = assemble(head, body, tail, seals, agency, rng, "none")
    return Doc(kind, pages, kind, "", agency, "{:04d}-{:02d}-{:02d}".format(*date))


def clipping(rng: random.Random, facts: dict, paper: str, headline: str, year: int, month: int) -> Doc:
    """A newspaper article kept in the file: masthead with year and month, a long headline in large type, a
    by-line and body. Outside the lexicon of document types; its date is partial (year and month)."""
    head = [Line(f"{paper}　　{year}年{month}月　　第{rng.randint(2, 8)}版", 12, "left", "hei", space=0.0),
            Line(headline, 24, "centre", "hei", space=1.6, bold=True),
            Line("本报记者　" + person(rng) + "　通讯员　" + person(rng), 13, "centre", "kai", space=0.8)]
    body = [ln for p in paragraphs(rng, 4, facts) for ln in body_lines(p, 29, 14)]
    pages = assemble(head, body, [], [], "", rng, "none", per_page=28)
    return Doc("新闻报道", pages, headline, "", paper, f"{year:04d}-{month:02d}")
