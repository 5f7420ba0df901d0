"""LLM benchmark: accuracy of the ``llm`` backend's embedded SmolLM2-135M-Instruct on 40 sentiment sentences.

The sentences below were written for this benchmark (20 positive, 20 negative, plain English, no
sarcasm; ``--limit 20`` runs the first set of 10 + 10 alone). The answer is constrained by the label
grammar (JSON Schema → GBNF, llama.cpp in-process). Zero-shot by default; ``--few-shot K`` adds K
examples per prompt, picked by character n-gram similarity from a separate pool of 8 labelled
sentences. Also prints items/s, tokens, and how well the confidence separates right from wrong
answers: the mean score of each and the AUROC (the chance that a right answer scores above a wrong
one; 0.5 is no separation), for the backend's score (the label's probability among the schema's
labels, from the top token log-probabilities) and, for comparison, the raw probability of the
label's own tokens.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/llm_bench.py [--few-shot 4] [--limit 20]``
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from labelloop.backends.llm import LlmBackend, create
from labelloop.backends.llm.client import ChatResult, label_confidence
from labelloop.backends.llm.prompt import label_values
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
    # a second set of 20, written later for the confidence figures (AUROC needs more wrong answers)
    ("The bakery on the corner makes the best croissants in town.", "positive"),
    ("Our new puppy has brought so much joy to the family.", "positive"),
    ("The nurse was kind and explained everything patiently.", "positive"),
    ("This laptop starts in seconds and the keyboard feels great.", "positive"),
    ("We had a lovely weekend by the lake with perfect weather.", "positive"),
    ("The mechanic fixed my car quickly and charged a fair price.", "positive"),
    ("I passed my driving test on the first try!", "positive"),
    ("The museum tour was fascinating and the guide was funny.", "positive"),
    ("These headphones sound amazing for the price.", "positive"),
    ("My neighbours surprised me with a birthday cake.", "positive"),
    ("The hotel lost our reservation and had no rooms left.", "negative"),
    ("The printer jams every time I use it.", "negative"),
    ("I was charged twice and the refund never arrived.", "negative"),
    ("The concert was cancelled an hour before it started.", "negative"),
    ("My package arrived soaked and the book inside was ruined.", "negative"),
    ("The app crashes whenever I try to log in.", "negative"),
    ("Our table was sticky and the soup tasted burnt.", "negative"),
    ("The landlord ignored our complaints about the broken heating.", "negative"),
    ("I got food poisoning after eating at that restaurant.", "negative"),
    ("The train was overcrowded and the air conditioning was broken.", "negative"),
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


class _Recording(LlmBackend):
    """The backend, keeping each completion (for the raw token-probability comparison)."""

    results: list[ChatResult]

    def _ask(self, messages: list[dict[str, str]], schema: dict[str, object]) -> ChatResult:
        result = super()._ask(messages, schema)
        self.results.append(result)
        return result


def auroc(right: list[float], wrong: list[float]) -> float:
    """P(a right answer's score > a wrong one's), ties counted half (Mann-Whitney U / pairs)."""
    if not right or not wrong:
        return float("nan")
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--few-shot", type=int, default=0)
    ap.add_argument("--limit", type=int, default=len(TEST))
    args = ap.parse_args()
    backend = _Recording(create({"few_shot": args.few_shot, "max_tokens": 16, "cache": False}).config)
    backend.results = []
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
    right, failed = 0, 0
    scores: dict[str, tuple[list[float], list[float]]] = {"label set": ([], []), "raw tokens": ([], [])}
    for out, result, (text, gold) in zip(outs, backend.results, test, strict=True):
        if out.failed:
            failed += 1
            print(f"  FAILED  {text!r}: {out.error}")
            continue
        pred = out.value[0]["labels"][0]
        ok = pred == gold
        right += ok
        raw = label_confidence(result, label_values({"sentiment": pred}, SCHEMA.controls)) or 0.0
        for name, value in (("label set", out.score or 0.0), ("raw tokens", raw)):
            scores[name][0 if ok else 1].append(value)
        print(
            f"  {'ok ' if ok else 'BAD'} {pred:8s} (gold {gold:8s}) score {out.score or 0:.2f} (raw {raw:.2f})  {text}"
        )
    n = len(test)
    usage = backend.usage()
    print(f"accuracy: {right}/{n} = {right / n:.2f} ({args.few_shot}-shot, label grammar), {failed} failed")
    print(
        f"speed: {n / seconds:.2f} items/s; tokens: {usage['prompt_tokens']:.0f} prompt, "
        f"{usage['completion_tokens']:.0f} completion"
    )
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    for name, (good, bad) in scores.items():
        print(
            f"confidence ({name:10s}): mean right {mean(good):.2f}, mean wrong {mean(bad):.2f}, "
            f"AUROC {auroc(good, bad):.2f} ({len(good)} right, {len(bad)} wrong)"
        )
    backend.close()


if __name__ == "__main__":
    main()
