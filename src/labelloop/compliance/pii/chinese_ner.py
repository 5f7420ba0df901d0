"""Chinese person and place names: jieba part-of-speech tags plus context patterns.

jieba's ``nr`` (person, also ``nrfg``/``nrt``) words become ``PERSON`` (score 0.6) and ``ns``
(place) words ``LOCATION`` (score 0.5). Patterns add names after cue words (我叫, 姓名:,
联系人, 收件人 …) or before honorifics (先生, 女士, 小姐) when they start with a common
surname (score 0.8).

The jieba tokenizer is a private instance, built on first use (about 1 s; jieba caches its
prefix dictionary in the temporary directory). Building it lowers jieba's own logger to
WARNING so that it does not print to stderr.

Example:
    >>> rec = ChineseNerRecognizer()
    >>> t = "张伟昨天在北京见到了联系人王小明。"
    >>> sorted({(t[f.start:f.end], f.entity) for f in rec.find(t)})
    [('北京', 'LOCATION'), ('张伟', 'PERSON'), ('王小明', 'PERSON')]
"""

from __future__ import annotations

import re
from typing import Any

from labelloop.compliance.pii._base import PRIORITY_NER, Finding

__all__ = ["ChineseNerRecognizer"]

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施"
    "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_HAN = r"[\u4e00-\u9fff]"
_CUE = re.compile(
    r"(?:我叫|名叫|叫做|姓名[:：]?|联系人[:：]?|收件人[:：]?|收货人[:：]?|患者|申请人[:：]?|客户)\s*(?P<v>["
    + _SURNAMES
    + "]"
    + _HAN
    + r"{1,2})(?=(?:[，。,、；;\s]|$|的|在|于|先生|女士|电话|手机|身份证|住)|$)"
)
_HONORIFIC = re.compile(r"(?P<v>[" + _SURNAMES + "]" + _HAN + r"{0,2})(?:先生|女士|小姐)")
_FLAGS = {"nr": ("PERSON", 0.6), "nrfg": ("PERSON", 0.6), "nrt": ("PERSON", 0.5), "ns": ("LOCATION", 0.5)}
_HAS_HAN = re.compile(_HAN)


class ChineseNerRecognizer:
    """``PERSON`` and ``LOCATION`` findings in Chinese text (entity scores 0.5–0.8)."""

    name = "jieba_posseg"

    def __init__(self) -> None:
        self._pos: Any | None = None

    def _tokenizer(self) -> Any:
        if self._pos is None:
            import logging

            import jieba  # type: ignore[import-untyped]
            import jieba.posseg  # type: ignore[import-untyped]

            jieba.setLogLevel(logging.WARNING)
            self._pos = jieba.posseg.POSTokenizer(jieba.Tokenizer())
        return self._pos

    def find(self, text: str) -> list[Finding]:
        """Return person and place findings in ``text`` (nothing for text without Han)."""
        if not _HAS_HAN.search(text):
            return []
        out: list[Finding] = []
        pos = 0
        for pair in self._tokenizer().cut(text):
            word, flag = str(pair.word), str(pair.flag)
            start = text.find(word, pos)
            if start < 0:
                continue
            pos = start + len(word)
            hit = _FLAGS.get(flag)
            if hit and len(word) >= 2 and _HAS_HAN.match(word):
                out.append(Finding(start, pos, hit[0], hit[1], self.name, PRIORITY_NER))
        for rx in (_CUE, _HONORIFIC):
            for m in rx.finditer(text):
                s, e = m.span("v")
                if e - s >= 2:
                    out.append(Finding(s, e, "PERSON", 0.8, "zh_name_pattern", PRIORITY_NER + 1))
        return out
