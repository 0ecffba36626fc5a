"""What a knowledge change does to a population: per topic, the patients it adds and removes.

`cdshooks simulate COHORT --knowledge-dir NEW --compare-to OLD` runs the cohort with both and compares the
patients who would get each card: added = with NEW, not with OLD; removed = the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdshooks.simulate.run import Simulation

EXAMPLES = 5


@dataclass
class TopicChange:
    topic: str
    before: int
    after: int
    added: int
    removed: int
    added_examples: list[str] = field(default_factory=list)  # patient ids
    removed_examples: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    baseline: str  # the knowledge compared with (version, hash)
    baseline_dir: str | None
    changes: list[TopicChange]  # every topic either run shows, changed ones first

    @property
    def changed(self) -> list[TopicChange]:
        return [c for c in self.changes if c.added or c.removed]


def compare(simulated: Simulation, baseline: Simulation) -> Comparison:
    now, before = simulated.patient_sets(), baseline.patient_sets()
    changes = []
    for topic in sorted(set(now) | set(before)):
        new, old = now.get(topic, set()), before.get(topic, set())
        changes.append(TopicChange(topic, len(old), len(new), len(new - old), len(old - new),
                                   sorted(new - old)[:EXAMPLES], sorted(old - new)[:EXAMPLES]))
    changes.sort(key=lambda c: (-(c.added + c.removed), -c.after, c.topic))
    return Comparison(baseline.knowledge, baseline.knowledge_dir, changes)
