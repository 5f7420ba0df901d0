"""PII detection benchmark: Faker zh_CN + en_US values inside sentences, precision/recall per type.

A prediction is a true positive when it has the same entity type as a planted value and
overlaps at least half of it (character IoU >= 0.5). Unplanted findings count against
precision (Faker filler text can itself contain names or places, so NER precision here is a
lower bound). Plates: Faker's zh_CN plates use ``I`` and a dash, which real plates never do, so
a small generator of real-format plates is used instead.

Run:
    .venv/bin/python benchmarks/pii_bench.py --n 300 --seed 7
    .venv/bin/python benchmarks/pii_bench.py --n 1000 --seed 1 --show PHONE   # list PHONE misses
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Callable

from faker import Faker

from labelloop.compliance.pii import PiiDetector, build_presidio_analyzer

_PROV = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LET = "ABCDEFGHJKLMNPQRSTUVWXYZ"

ZH = {
    "PERSON": ("name", ["联系人{}，请回电。", "今天{}来办理业务。", "患者{}已出院。"]),
    "ADDRESS": ("address", ["收货地址：{}，请尽快发货。", "他住在{}。"]),
    "PHONE": ("phone_number", ["手机号码{}，24小时开机。", "请拨打{}联系我们。"]),
    "EMAIL": ("email", ["邮箱{}，欢迎来信。", "请发送至{}。"]),
    "CN_ID": ("ssn", ["身份证号{}，已核验。", "证件号码：{}"]),
    "BANK_CARD": ("credit_card_number", ["银行卡号{}，户名见附件。", "卡号：{}"]),
    "IP_ADDRESS": ("ipv4", ["登录IP为{}，异常。", "服务器地址{}"]),
    "URL": ("url", ["详情见{}。", "访问{}了解更多"]),
    "LICENSE_PLATE": ("_plate", ["车牌{}的车辆违章。", "车牌号码：{}"]),
    "PASSPORT": ("_passport", ["护照号码{}，有效期十年。", "持护照{}入境"]),
}
EN = {
    "PERSON": ("name", ["Please ask {} to call back.", "Yesterday {} signed the form.", "Contact: {}"]),
    "ADDRESS": ("address", ["Ship the parcel to {} by Friday.", "Mailing address: {}"]),
    "PHONE": ("phone_number", ["Call me at {} tomorrow.", "Phone: {}"]),
    "EMAIL": ("email", ["Write to {} for details.", "Email: {}."]),
    "BANK_CARD": ("credit_card_number", ["Card number {} was declined.", "Charge {} please"]),
    "IP_ADDRESS": ("ipv6", ["Login from {} flagged.", "Host {} is down"]),
    "URL": ("url", ["See {} for details.", "Docs at {}"]),
    "LOCATION": ("city", ["She moved to {} last year.", "The office in {} is closed."]),
}


def _plate(rng: random.Random) -> str:
    tail = "".join(rng.choice(_LET + "0123456789") for _ in range(4)) + rng.choice("0123456789")
    return rng.choice(_PROV) + rng.choice(_LET) + rng.choice(["", "·"]) + tail


def _passport(rng: random.Random) -> str:
    return rng.choice("EG") + "".join(rng.choice("0123456789") for _ in range(8))


def corpus(n: int, seed: int) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Sentences of two to four planted values each, with their gold spans."""
    rng = random.Random(seed)
    fakers = {"zh": Faker("zh_CN"), "en": Faker("en_US")}
    for f in fakers.values():
        f.seed_instance(seed)
    extra: dict[str, Callable[[random.Random], str]] = {"_plate": _plate, "_passport": _passport}
    docs = []
    for _ in range(n):
        lang = rng.choice(["zh", "en"])
        table = ZH if lang == "zh" else EN
        text, gold = "", []
        for entity in rng.sample(sorted(table), k=rng.randint(2, 4)):
            method, templates = table[entity]
            value = extra[method](rng) if method in extra else str(getattr(fakers[lang], method)())
            before, after = rng.choice(templates).split("{}")
            start = len(text) + len(before)
            gold.append((start, start + len(value), entity))
            text += before + value + after + ("" if lang == "zh" else " ")
        docs.append((text, gold))
    return docs


def _match(a: tuple[int, int], b: tuple[int, int]) -> bool:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return inter > 0 and inter / (max(a[1], b[1]) - min(a[0], b[0])) >= 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="number of documents")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--show", metavar="ENTITY", help="print the missed and the spurious values of ENTITY")
    args = ap.parse_args()
    t0 = time.perf_counter()
    det = PiiDetector(presidio_analyzer=build_presidio_analyzer())
    setup = time.perf_counter() - t0
    docs = corpus(args.n, args.seed)
    tp, fn, fp = Counter[str](), Counter[str](), Counter[str]()
    t0 = time.perf_counter()
    for text, gold in docs:
        pred = [(f.start, f.end, f.entity) for f in det.detect(text)]
        used: set[int] = set()
        for gs, ge, ent in gold:
            hit = next(
                (i for i, p in enumerate(pred) if i not in used and p[2] == ent and _match((gs, ge), p[:2])), None
            )
            if hit is None:
                fn[ent] += 1
                if ent == args.show:
                    print(f"missed   {text[gs:ge]!r} in {text!r}")
            else:
                tp[ent] += 1
                used.add(hit)
        for i, p in enumerate(pred):
            if i not in used:
                fp[p[2]] += 1
                if p[2] == args.show:
                    print(f"spurious {text[p[0] : p[1]]!r} in {text!r}")
    elapsed = time.perf_counter() - t0
    print(f"{len(docs)} documents, engine set-up {setup:.1f} s, detection {1000 * elapsed / len(docs):.1f} ms/doc")
    print(f"{'entity':<14}{'gold':>6}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>8}")
    for ent in sorted(set(tp) | set(fn) | set(fp)):
        g = tp[ent] + fn[ent]
        prec = tp[ent] / (tp[ent] + fp[ent]) if tp[ent] + fp[ent] else float("nan")
        rec = tp[ent] / g if g else float("nan")
        print(f"{ent:<14}{g:>6}{tp[ent]:>6}{fp[ent]:>6}{fn[ent]:>6}{prec:>11.3f}{rec:>8.3f}")


if __name__ == "__main__":
    main()
