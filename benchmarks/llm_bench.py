"""LLM benchmark: accuracy of the ``llm`` backend's embedded SmolLM2-135M-Instruct on 20 sentiment sentences.

The sentences below were written for this benchmark (10 positive, 10 negative, plain English,
no sarcasm). The answer is constrained by the label grammar (JSON Schema → GBNF, llama.cpp
in-process). Zero-shot by default; ``--few-shot K`` adds K examples per prompt, picked by
character n-gram similarity from a separate pool of 8 labelled sentences. Also prints items/s,
tokens and the mean confidence of right and wrong answers (from token log-probabilities).

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/llm_bench.py [--few-shot 4] [--limit 20]``
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from labelloop.backends.llm import create
from labelloop.core import Item, LabelSchema, MediaRef
from labelloop.core.plugins import BackendContext

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "text", "kind": "text"}],
        "controls": [
            {
                "name": "sentiment",
                "kind": "classification",
                "target": "text",
                "labels": ["positive", "negative"],
                "description": "positive: the writer is pleased; negative: the writer is unhappy.",
            }
        ],
    }
)
TEST = [
    ("The hotel staff were friendly and the room was spotless.", "positive"),
    ("I absolutely loved the concert last night.", "positive"),
    ("This phone has a fantastic battery life.", "positive"),
    ("Our waiter was attentive and the pasta was delicious.", "positive"),
    ("The new update made the app faster and easier to use.", "positive"),
    ("What a beautiful day for a walk in the park!", "positive"),
    ("The course was clear, well organised and really useful.", "positive"),
    ("I am thrilled with how the garden turned out.", "positive"),
    ("Delivery was quick and the package arrived in perfect shape.", "positive"),
    ("She gave an inspiring talk and everyone enjoyed it.", "positive"),
    ("The food was cold and the service was painfully slow.", "negative"),
    ("My flight was delayed for six hours and nobody told us why.", "negative"),
    ("This vacuum cleaner broke after two days.", "negative"),
    ("The movie was boring and far too long.", "negative"),
    ("I waited on hold for an hour and then they hung up.", "negative"),
    ("The room smelled of smoke and the sheets were dirty.", "negative"),
    ("The instructions were confusing and parts were missing.", "negative"),
    ("I regret buying these shoes; they hurt my feet.", "negative"),
    ("The customer support was rude and unhelpful.", "negative"),
    ("Traffic was terrible and I missed the meeting.", "negative"),
]
POOL = [
    ("Great value for money, I would buy it again.", "positive"),
    ("The staff went out of their way to help us.", "positive"),
    ("A wonderful film with a moving story.", "positive"),
    ("The soup was tasty and the bread was fresh.", "positive"),
    ("The screen cracked the first time I dropped it.", "negative"),
    ("Worst hotel I have ever stayed in.", "negative"),
    ("The train was late again and packed with people.", "negative"),
    ("The meal was overpriced and bland.", "negative"),
]


def _item(i: int, text: str) -> Item:
    return Item(i, 1, {"text": MediaRef.from_text(text)}, "", None, "bench", {}, None, datetime.now(UTC), "bench")


class _NoMedia:
    def path(self, ref: MediaRef) -> None:
        raise AssertionError("text only")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--few-shot", type=int, default=0)
    ap.add_argument("--limit", type=int, default=len(TEST))
    args = ap.parse_args()
    backend = create({"few_shot": args.few_shot, "max_tokens": 16, "cache": False})
    t0 = time.perf_counter()
    backend.setup(BackendContext(media=_NoMedia()))  # type: ignore[arg-type]
    print(f"model load: {time.perf_counter() - t0:.2f} s ({backend.model_version})")
    if args.few_shot:
        pool = [_item(1000 + i, t) for i, (t, _) in enumerate(POOL)]
        values = [[{"id": "c", "control": "sentiment", "labels": [y]}] for _, y in POOL]
        backend.fit(pool, values, SCHEMA)
    test = TEST[: args.limit]
    items = [_item(i + 1, t) for i, (t, _) in enumerate(test)]
    t0 = time.perf_counter()
    outs = backend.predict(items, SCHEMA, SCHEMA.controls)
    seconds = time.perf_counter() - t0
    right, conf_right, conf_wrong, failed = 0, [], [], 0
    for out, (text, gold) in zip(outs, test, strict=True):
        if out.failed:
            failed += 1
            print(f"  FAILED  {text!r}: {out.error}")
            continue
        pred = out.value[0]["labels"][0]
        ok = pred == gold
        right += ok
        (conf_right if ok else conf_wrong).append(out.score or 0.0)
        print(f"  {'ok ' if ok else 'BAD'} {pred:8s} (gold {gold:8s}) score {out.score or 0:.2f}  {text}")
    n = len(test)
    usage = backend.usage()
    print(f"accuracy: {right}/{n} = {right / n:.2f} ({args.few_shot}-shot, label grammar), {failed} failed")
    print(
        f"speed: {n / seconds:.2f} items/s; tokens: {usage['prompt_tokens']:.0f} prompt, "
        f"{usage['completion_tokens']:.0f} completion"
    )
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    print(f"mean score: right {mean(conf_right):.2f}, wrong {mean(conf_wrong):.2f}")
    backend.close()


if __name__ == "__main__":
    main()
