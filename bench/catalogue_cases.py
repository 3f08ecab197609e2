"""The case files of the catalogue benchmark: eight batches of documents as case files hold them (no separator
sheets, no document list), written as scanned page files with a truth.json beside them.

    PYTHONPATH=. python bench/catalogue_cases.py OUT_DIR      # writes OUT_DIR/<batch>/0001.jpg… and OUT_DIR/<batch>.json
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from bench import catalogue_docs as d
from bench.catalogue_render import degrade, random_scan, render_page


def _facts(rng: random.Random, place: str, year: int) -> dict:
    return {"person": d.person(rng), "place": place, "year": year}


def case_shenhe(rng: random.Random) -> list[d.Doc]:
    """Theft in 沈河区: police, procuratorate, two judgments of the same court in a row, a news clipping."""
    f = _facts(rng, "沈阳市沈河区", 2021)
    police = "沈阳市公安局沈河分局"
    court = "辽宁省沈阳市沈河区人民法院"
    return [
        d.agency_document(rng, f, "起诉意见书", police, "沈公（沈）诉字〔2021〕0356号", (2021, 10, 21), signer="侦查员"),
        d.record(rng, f, "讯问笔录", police, (2021, 9, 3), two_columns=False, pages=2),
        d.record(rng, f, "询问笔录", police, (2021, 9, 4), two_columns=True, pages=1),
        d.agency_document(rng, f, "起诉书", "沈阳市沈河区人民检察院", "沈河检刑诉〔2021〕112号", (2021, 11, 30),
                          number_right=True),
        d.court_document(rng, f, "刑事判决书", court, "（2022）辽0103刑初821号", (2022, 1, 4), body_paras=5),
        d.court_document(rng, f, "刑事判决书", court, "（2022）辽0103刑初822号", (2022, 1, 4), body_paras=4),
        d.clipping(rng, f, "法治日报", "沈河区法院集中宣判一批盗窃电动车案件", 2022, 1),
    ]


def case_qitaihe(rng: random.Random) -> list[d.Doc]:
    """Fraud in 七台河市新兴区: arrest warrant, bail decision, interrogation, indictment, judgment, a statement."""
    f = _facts(rng, "七台河市新兴区", 2021)
    return [
        d.agency_document(rng, f, "逮捕证", "七台河市公安局", "七公（刑）捕字〔2021〕112号", (2021, 3, 12),
                          signer="局长", body_paras=1),
        d.agency_document(rng, f, "取保候审决定书", "七台河市公安局新兴分局", "七公新（刑）取保字〔2021〕56号",
                          (2021, 4, 10), signer="局长", body_paras=1, number_right=True),
        d.record(rng, f, "讯问笔录", "七台河市公安局新兴分局", (2021, 3, 31), two_columns=True, pages=2),
        d.agency_document(rng, f, "起诉书", "黑龙江省七台河市新兴区人民检察院", "七新检刑诉〔2021〕87号",
                          (2021, 6, 20), split=8, footer="dash"),
        d.court_document(rng, f, "刑事判决书", "黑龙江省七台河市新兴区人民法院", "（2021）黑0902刑初131号",
                         (2021, 8, 31), two_columns=True),
        d.statement(rng, f, "情况说明", "七台河市公安局新兴分局", (2021, 5, 11)),
    ]


def case_urumqi(rng: random.Random) -> list[d.Doc]:
    """An appeal in 乌鲁木齐: two-line court name, a judgment and a ruling of the same court, arrest report."""
    f = _facts(rng, "乌鲁木齐市天山区", 2022)
    court = "新疆维吾尔自治区乌鲁木齐市中级人民法院"
    return [
        d.statement(rng, f, "到案经过", "乌鲁木齐市公安局天山区分局", (2021, 12, 2)),
        d.agency_document(rng, f, "起诉书", "乌鲁木齐市天山区人民检察院", "天检刑诉〔2022〕15号", (2022, 2, 28),
                          two_columns=True),
        d.court_document(rng, f, "刑事判决书", "新疆维吾尔自治区乌鲁木齐市天山区人民法院", "（2022）新0102刑初77号",
                         (2022, 5, 10), split=8, number_right=False, footer="of"),
        d.court_document(rng, f, "刑事裁定书", court, "（2022）新01刑终45号", (2022, 9, 21), split=11,
                         body_paras=2),
        d.court_document(rng, f, "刑事裁定书", court, "（2022）新01刑终46号", (2022, 9, 21), split=11,
                         body_paras=2),
    ]


def case_xinxing(rng: random.Random) -> list[d.Doc]:
    """Civil cases in 新兴县: a judgment, two rulings in a row, a county notice, an inquiry record."""
    f = _facts(rng, "云浮市新兴县", 2020)
    court = "广东省新兴县人民法院"
    return [
        d.court_document(rng, f, "民事判决书", court, "（2020）粤5321民初1024号", (2020, 12, 31), footer="of"),
        d.court_document(rng, f, "民事裁定书", court, "（2021）粤5321民初15号", (2021, 1, 20), body_paras=1),
        d.court_document(rng, f, "民事裁定书", court, "（2021）粤5321民初16号", (2021, 1, 20), body_paras=1),
        d.official_document(rng, f, "新兴县人民政府", "新府〔2020〕45号", "关于做好矛盾纠纷排查化解工作的通知",
                            (2020, 10, 9)),
        d.record(rng, f, "询问笔录", "新兴县公安局", (2020, 11, 2), two_columns=False, pages=1),
    ]


def case_hohhot(rng: random.Random) -> list[d.Doc]:
    """呼和浩特: two-line procuratorate and court names, a prosecution opinion and an interrogation."""
    f = _facts(rng, "呼和浩特市新城区", 2023)
    return [
        d.agency_document(rng, f, "起诉意见书", "呼和浩特市公安局新城区分局", "呼公新（刑）诉字〔2023〕201号",
                          (2023, 2, 14), signer="侦查员", number_right=True, footer="of"),
        d.record(rng, f, "讯问笔录", "呼和浩特市公安局新城区分局", (2023, 1, 10), two_columns=True, pages=2),
        d.agency_document(rng, f, "起诉书", "内蒙古自治区呼和浩特市新城区人民检察院", "新检刑诉〔2023〕66号",
                          (2023, 3, 30), split=6, arabic=True),
        d.court_document(rng, f, "刑事判决书", "内蒙古自治区呼和浩特市新城区人民法院", "（2023）内0102刑初318号",
                         (2023, 6, 1), split=6, spaced=False),
        d.court_document(rng, f, "刑事裁定书", "内蒙古自治区呼和浩特市新城区人民法院", "（2023）内0102刑初318号之一",
                         (2023, 6, 12), split=6, body_paras=1),
    ]


def case_jinshui(rng: random.Random) -> list[d.Doc]:
    """郑州: a district notice with a two-line title, arrest warrant and detention of the same bureau, a clipping."""
    f = _facts(rng, "郑州市金水区", 2022)
    return [
        d.official_document(rng, f, "郑州市金水区人民政府", "金政文〔2022〕38号",
                            "关于进一步加强辖区电信网络诈骗犯罪防范宣传工作的通知", (2022, 7, 1), title_split=16),
        d.agency_document(rng, f, "拘留证", "郑州市公安局金水分局", "郑公金（刑）拘字〔2022〕1021号", (2022, 7, 20),
                          signer="局长", body_paras=1),
        d.agency_document(rng, f, "逮捕证", "郑州市公安局", "郑公（刑）捕字〔2022〕2210号", (2022, 8, 2),
                          signer="局长", body_paras=1),
        d.agency_document(rng, f, "逮捕证", "郑州市公安局", "郑公（刑）捕字〔2022〕2211号", (2022, 8, 2),
                          signer="局长", body_paras=1),
        d.record(rng, f, "讯问笔录", "郑州市公安局金水分局", (2022, 7, 21), two_columns=False, pages=1),
        d.clipping(rng, f, "河南法制报", "金水警方破获一起跨省电信网络诈骗案抓获犯罪嫌疑人十二名", 2022, 10),
    ]


def case_qingxiu(rng: random.Random) -> list[d.Doc]:
    """南宁市青秀区: autonomous-region names, a bail decision, indictment and judgment, Arabic dates."""
    f = _facts(rng, "南宁市青秀区", 2024)
    court = "广西壮族自治区南宁市青秀区人民法院"
    return [
        d.agency_document(rng, f, "取保候审决定书", "南宁市公安局青秀分局", "南公青（刑）取保字〔2024〕88号",
                          (2024, 1, 15), signer="局长", body_paras=1),
        d.agency_document(rng, f, "起诉书", "南宁市青秀区人民检察院", "青检刑诉〔2024〕19号", (2024, 3, 1),
                          arabic=True, footer="dash"),
        d.court_document(rng, f, "刑事判决书", court, "（2024）桂0103刑初233号", (2024, 4, 30), split=9),
        d.statement(rng, f, "情况说明", "南宁市青秀区人民检察院", (2024, 2, 19)),
    ]


def case_fengqiu(rng: random.Random) -> list[d.Doc]:
    """封丘县: a record, a decision, a civil judgment and ruling, a clipping with only year and month."""
    f = _facts(rng, "新乡市封丘县", 2019)
    court = "河南省封丘县人民法院"
    return [
        d.record(rng, f, "询问笔录", "封丘县公安局", (2019, 3, 2), two_columns=True, pages=2),
        d.agency_document(rng, f, "立案决定书", "封丘县公安局", "封公（刑）立字〔2019〕77号", (2019, 3, 1),
                          signer="局长", body_paras=1, arabic=True),
        d.court_document(rng, f, "民事判决书", court, "（2019）豫0727民初2231号", (2019, 11, 11), number_right=False),
        d.court_document(rng, f, "民事裁定书", court, "（2019）豫0727民初2232号", (2019, 12, 10), body_paras=1),
        d.clipping(rng, f, "新乡日报", "封丘法院巡回审判进乡村调解邻里纠纷", 2019, 12),
    ]


CASES = {"shenhe": case_shenhe, "qitaihe": case_qitaihe, "urumqi": case_urumqi, "xinxing": case_xinxing,
         "hohhot": case_hohhot, "jinshui": case_jinshui, "qingxiu": case_qingxiu, "fengqiu": case_fengqiu}


def write_case(name: str, out: Path, seed: int = 18) -> dict:
    """Render, degrade and write one batch; returns its truth."""
    rng = random.Random(f"{seed}-{name}")
    docs = CASES[name](rng)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    n, scans = 0, []
    for doc in docs:
        for spec in doc.pages:
            n += 1
            scan = random_scan(rng, bool(spec.seals))
            data, suffix = degrade(render_page(spec, rng), scan, rng)
            (folder / f"{n:04d}{suffix}").write_bytes(data)
            scans.append({"file": f"{n:04d}{suffix}", "scan": scan.__dict__})
    truth = {"case": name, "documents": [doc.truth() for doc in docs], "pages": scans}
    (out / f"{name}.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-out/catalogue/cases")
    for case in CASES:
        t = write_case(case, target)
        print(case, len(t["documents"]), "documents,", len(t["pages"]), "pages")
