"""The people a case file names, found from the documents' own fields: the header of a 笔录 (被询问人：张三　性别：男),
the role words of the narrative (被害人张三家中, 证人李四证实), the 卷内目录's titles (被害人王五陈述).

A name is read after its role word as a surname (one character, or a compound surname) and one or two more
characters, and only where the text after it says the name has ended: a field separator (certain), or a word a
name is followed by in Chinese prose (证实, 陈述, 的, 家, 称 …: doubtful; when two lengths both fit, both are kept,
doubtful). Each person keeps every role they were named in and whether they were a minor (a birth date under 18 years
before the 笔录's date, 未成年, 现年N岁).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文"
    "牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲"
    "翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫"
    "米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥"
    "南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相"
    "初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利"
    "於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由萧褚蒋沈韩秦尤施孔严金魏陶姜谢邹喻柏窦章苏潘葛范彭鲁"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
                     "夏侯", "令狐", "端木", "西门", "南宫", "独孤", "轩辕", "万俟", "闻人", "澹台", "公冶", "太史",
                     "申屠", "呼延", "钟离", "百里", "东郭", "拓跋")

ROLE_WORDS: dict[str, str] = {
    "被询问人": "witness", "被讯问人": "suspect", "犯罪嫌疑人": "suspect", "嫌疑人": "suspect", "被告人": "defendant",
    "被害人": "victim", "受害人": "victim", "证人": "witness", "报案人": "witness", "报警人": "witness",
    "举报人": "witness", "控告人": "witness", "见证人": "witness", "辨认人": "witness", "鉴定人": "expert",
    "法定代理人": "guardian", "监护人": "guardian", "附带民事诉讼原告人": "victim", "翻译人员": "other",
}
TITLE_ROLES = {"询问笔录": "witness", "证言": "witness", "陈述": "victim", "讯问笔录": "suspect", "辨认笔录": "witness"}
NOT_IN_GIVEN = frozenset("某的家等称在于是了与和及人们说讲证述被向将对因所报系也都又还就已曾到男女年日时出住现户"
                         "姓性别身份证号电话联系族职业单位工作并从把让给由经以回来去拿看走跑打叫问答买卖找送借偷抢"
                         "骗开坐进说")
"""Characters that end a name rather than belong to it (民, 文, 生, 月 … are common in given names: not here)."""
DELIMITERS = frozenset("，,。.；;：:、（）()《》“”\"'　 \n|/·—-")
CONTINUATIONS = ("证实", "证明", "陈述", "供述", "指认", "辨认", "谅解", "作证", "称", "说", "讲", "的", "家",
                 "在", "于", "与", "和", "及", "等", "系", "是", "到", "向", "被", "将", "对", "因", "所", "报",
                 "签", "捺", "男", "女", "性别", "出生", "身份", "住", "现", "户籍", "发现", "回", "为", "之", "处",
                 "后", "时", "陪同", "出具", "提供", "证言", "笔录", "询问", "讯问", "年", "同", "也", "均", "即",
                 "已", "当", "电话", "手机", "联系", "岁", "拿", "看", "去", "来", "把", "从", "一", "两", "二",
                 "证件", "账号", "卡号", "号码")
NAME_FIELDS = ("户名", "持卡人", "开户人", "账户名称", "机主", "车主", "户主", "收款人", "付款人", "姓名")
"""Labels of a form's or a register's field that holds a person's name (户名：张三): where a misread of a known
name is looked for, not where the case file's people are read from (the field says nothing of their role)."""
_ROLE = re.compile("|".join(sorted(ROLE_WORDS, key=len, reverse=True)))
_NAMED = re.compile("|".join(sorted((*ROLE_WORDS, *NAME_FIELDS), key=len, reverse=True)))
_BIRTH = re.compile(r"(?:出生日期|出生年月日|出生)[：:\s]*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
                    r"|(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*出生")
_AGE = re.compile(r"现年\s*(\d{1,2})\s*周?岁|(\d{1,2})\s*周岁")
_WHEN = re.compile(r"时间[：:\s]*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")


@dataclass
class Person:
    """Someone the case file names: the name as written, every role it was named in, whether a minor, and how sure
    the reading is (certain: closed by a field separator at least once)."""

    name: str
    roles: set[str] = field(default_factory=set)
    minor: bool = False
    certain: bool = False
    where: list[str] = field(default_factory=list)  # where it was found first (volume/page or 卷内目录)

    @property
    def surname(self) -> str:
        """The surname: compound (欧阳) or one character."""
        return self.name[:2] if self.name[:2] in COMPOUND_SURNAMES else self.name[:1]


def _surname_at(text: str, i: int) -> list[int]:
    """Lengths of the surnames ``text`` may start with at ``i``."""
    out = [2] if text[i : i + 2] in COMPOUND_SURNAMES else []
    return out + ([1] if text[i : i + 1] in SURNAMES else [])


def readings(text: str, i: int) -> list[tuple[str, bool]]:
    """Names that may start at ``i``: (name, closed by a field separator)."""
    out: list[tuple[str, bool]] = []
    for s in _surname_at(text, i):
        for g in (1, 2):
            name = text[i : i + s + g]
            given = name[s:]
            if len(given) != g or any(not ("\u4e00" <= c <= "\u9fff") or c in NOT_IN_GIVEN for c in given):
                continue
            rest = text[i + s + g :]
            if not rest or rest[0] in DELIMITERS:
                out.append((name, True))
            elif rest.startswith(CONTINUATIONS):
                out.append((name, False))
    return out


def _skip_separators(text: str, i: int) -> int:
    while i < len(text) and text[i] in "：: 　":
        i += 1
    return i


def _mentions(labels: re.Pattern[str], text: str) -> Iterable[tuple[str, int, list[tuple[str, bool]]]]:
    for m in labels.finditer(text):
        start = _skip_separators(text, m.end())
        found = readings(text, start)
        if found:
            yield m.group(), start, found


def role_mentions(text: str) -> Iterable[tuple[str, int, list[tuple[str, bool]]]]:
    """Every role word in ``text`` with the name readings after it: (role, where the name starts, readings)."""
    for word, start, found in _mentions(_ROLE, text):
        yield ROLE_WORDS[word], start, found


def name_mentions(text: str) -> Iterable[tuple[int, list[tuple[str, bool]]]]:
    """Every place in ``text`` a name may follow a role word or a name field's label: (where it starts,
    readings)."""
    for _, start, found in _mentions(_NAMED, text):
        yield start, found


def _choose(found: list[tuple[str, bool]], known: set[str]) -> list[tuple[str, bool]]:
    """The readings to believe: one closed by a separator, else one already known, else every one (doubtful)."""
    closed = [r for r in found if r[1]]
    if len(closed) == 1:
        return closed
    confirmed = [r for r in found if r[0] in known]
    if len(confirmed) == 1:
        return [(confirmed[0][0], True)]
    return [(name, False) for name, _ in found]


def _minor(line: str, at: int, when: date | None) -> bool:
    tail = line[at : at + 60]
    if "未成年" in line[max(0, at - 20) : at + 30]:
        return True
    m = _BIRTH.search(tail)
    if m:
        y, mo, d = (int(v) for v in (m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)))
        try:
            born = date(y, mo, d)
        except ValueError:
            return False
        ref = when or date.today()
        return (ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))) < 18
    age = _AGE.search(tail)
    return bool(age) and int(age.group(1) or age.group(2)) < 18


def document_date(text: str) -> date | None:
    """The date of a 笔录's 时间 line, when the page has one."""
    m = _WHEN.search(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


class Register:
    """The people of a case file, added page by page (and title by title), in the order they were first named."""

    def __init__(self) -> None:
        """An empty register."""
        self.people: dict[str, Person] = {}

    def read(self, text: str, where: str, when: date | None = None) -> None:
        """Add everyone ``text`` names after a role word; ``when`` dates it (for minors)."""
        for role, start, found in role_mentions(text):
            for name, closed in _choose(found, set(self.people)):
                person = self.people.setdefault(name, Person(name, where=[where]))
                person.roles.add(role)
                person.certain = person.certain or closed
                person.minor = person.minor or _minor(text, start, when)

    def read_title(self, title: str, where: str) -> None:
        """Add the person a 卷内目录 title names: after a role word, or before 询问笔录 / 证言 / 陈述."""
        self.read(title, where)
        for kind, role in TITLE_ROLES.items():
            at = title.find(kind)
            if at < 2:
                continue
            head = title[:at].removesuffix("的").removeprefix("对")
            head = _ROLE.sub("", head)
            if 2 <= len(head) <= 4 and _surname_at(head, 0) and all(c not in NOT_IN_GIVEN for c in head[1:]):
                person = self.people.setdefault(head, Person(head, where=[where]))
                person.roles.add(role)
                person.certain = True

    def named(self, roles: Iterable[str], minors: bool) -> list[Person]:
        """The people to pseudonymise: those named in one of ``roles``, and every minor when ``minors`` — without
        doubtful readings one character off a certain name (a misreading of it, replaced as that name's near
        miss)."""
        wanted = set(roles)
        chosen = [p for p in self.people.values() if p.roles & wanted or (minors and p.minor)]
        return [p for p in chosen if p.certain or not any(one_off(p.name, q.name) for q in chosen if q.certain)]


def one_off(a: str, b: str) -> bool:
    """Same length (3+), same surname, one other character different."""
    return len(a) == len(b) >= 3 and a[0] == b[0] and sum(x != y for x, y in zip(a, b)) == 1
