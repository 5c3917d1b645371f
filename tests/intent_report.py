"""How well the intent router does on the labelled corpus: ``python tests/intent_report.py``.

Prints accuracy, precision and recall per intent and the confusion table (rows: the label,
columns: where the router sent it), then every miss. test_intent.py runs the same numbers and
asserts them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent
_SERVER = _HERE.parent / "server"
if str(_SERVER) not in sys.path:  # runnable from a checkout without installing the package
    sys.path.insert(0, str(_SERVER))

from nemovideo_mcp.text.intent import Route, route  # noqa: E402

CORPUS = _HERE / "corpus" / "intents.yaml"
INTENTS = ("export", "credits", "state", "upload", "generate")
HELD_OUT = ("held_out", "held_out_2")


@dataclass(frozen=True)
class Outcome:
    case: dict[str, Any]
    got: Route

    @property
    def intent_ok(self) -> bool:
        return self.got.intent == self.case["intent"]

    @property
    def ok(self) -> bool:
        """Intent, also_export (False unless labelled) and sources (when labelled) all match."""
        return (
            self.intent_ok
            and self.got.also_export == bool(self.case.get("also_export", False))
            and ("sources" not in self.case or self.got.sources == self.case["sources"])
        )


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        cases: list[dict[str, Any]] = yaml.safe_load(f)
    return cases


def evaluate(cases: list[dict[str, Any]] | None = None) -> list[Outcome]:
    return [Outcome(case, route(case["text"])) for case in (cases if cases is not None else load_corpus())]


def confusion(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    table = {want: dict.fromkeys(INTENTS, 0) for want in INTENTS}
    for outcome in outcomes:
        table[outcome.case["intent"]][outcome.got.intent] += 1
    return table


def precision_recall(outcomes: list[Outcome]) -> dict[str, tuple[float, float, int]]:
    """intent -> (precision, recall, support). A class never predicted has precision 1.0 (no false
    positives), which is what "never misroutes" means for it."""
    table = confusion(outcomes)
    scores: dict[str, tuple[float, float, int]] = {}
    for intent in INTENTS:
        true_pos = table[intent][intent]
        predicted = sum(table[want][intent] for want in INTENTS)
        support = sum(table[intent].values())
        scores[intent] = (
            true_pos / predicted if predicted else 1.0,
            true_pos / support if support else 1.0,
            support,
        )
    return scores


def intent_report(outcomes: list[Outcome] | None = None) -> str:
    outcomes = outcomes if outcomes is not None else evaluate()
    total = len(outcomes)
    intent_right = sum(o.intent_ok for o in outcomes)
    all_right = sum(o.ok for o in outcomes)
    negatives = [o for o in outcomes if "negative" in o.case.get("tags", [])]
    misrouted_negatives = [o for o in negatives if not o.intent_ok]
    tags: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        for tag in outcome.case.get("tags", []):
            tags.setdefault(tag, []).append(outcome)

    lines = [
        f"Intent routing on {total} labelled phrases ({CORPUS.name})",
        f"  intent accuracy: {intent_right}/{total} = {intent_right / total:.1%}",
        f"  exact (intent + also_export + sources): {all_right}/{total} = {all_right / total:.1%}",
        f"  negatives misrouted: {len(misrouted_negatives)} of {len(negatives)}",
        # Phrases written after the rules, kept apart: their accuracy is the honest estimate for new phrasings.
        *(
            f"  held out ({tag}): {sum(o.ok for o in tags[tag])}/{len(tags[tag])} = "
            f"{sum(o.ok for o in tags[tag]) / len(tags[tag]):.1%}"
            for tag in HELD_OUT
            if tags.get(tag)
        ),
        "  by tag: "
        + ", ".join(f"{tag} {sum(o.ok for o in group)}/{len(group)}" for tag, group in sorted(tags.items())),
        "",
        f"  {'intent':<10}{'precision':>10}{'recall':>8}{'support':>9}",
    ]
    for intent, (precision, recall, support) in precision_recall(outcomes).items():
        lines.append(f"  {intent:<10}{precision:>10.2f}{recall:>8.2f}{support:>9}")
    lines += [
        "",
        "  confusion (rows: label, columns: routed to)",
        "  " + " " * 10 + "".join(f"{i:>9}" for i in INTENTS),
    ]
    for want, row in confusion(outcomes).items():
        lines.append(f"  {want:<10}" + "".join(f"{row[got]:>9}" for got in INTENTS))
    misses = [o for o in outcomes if not o.ok]
    if misses:
        lines += ["", "  misses:"]
        lines += [
            f"    {o.case['text']!r}: want {o.case['intent']}, got {o.got.intent}"
            f" (also_export={o.got.also_export}, sources={o.got.sources}; {o.got.reason})"
            for o in misses
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(intent_report())
