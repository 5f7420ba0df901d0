"""A/B experiments on a live project: two labelling strategies on randomly split items.

An experiment has a name (unique in the project) and two arms, ``a`` and ``b``, each a small
:class:`ArmStrategy`:

* ``prefill`` (default on): the task shows the model's suggestions pre-filled. Off, the task is
  *blind*, exactly as an item routed ``manual`` or ``audit`` is (:mod:`labelloop.services.live_routing`):
  the payload has no suggestions and ``blind`` is true. An arm never reveals what routing hides: a
  blind-routed item stays blind in either arm.
* ``backend`` (``name`` or ``name@model_version``): only that backend's (version's) suggestions are
  shown, so two backends can be compared. Needs ``prefill`` on.
* ``guideline``: text the task payload carries as ``guidelines`` (the project's guidelines, in
  its schema, apply where an arm sets none).
* ``accept_threshold`` (a number in (0, 1]): a **floor** on the calibrated score of the arm's
  auto-accepted labels. Live routing (``labelloop route``) certifies its thresholds per run from
  audited evidence; an item of the arm is auto-accepted only when its suggestion passes the
  certified threshold **and** its calibrated score reaches the floor (effective threshold
  ``max(certified, T)``), so a floor can only auto-accept less, never an uncertified label
  (:mod:`labelloop.services.live_arms`). An arm without one uses the certified threshold alone.

:func:`create_experiment` splits the project's items (``all``, or the ``unlabelled`` ones: no
annotation version yet) at random into the arms, half and half
(:func:`labelloop.active.split_arms`, seeded; the seed is stored, and so is each item's arm).
An item is in at most one running experiment. While the experiment runs, the task payload
(``next``) applies the item's arm (:func:`arm_view`); :func:`stop_experiment` ends that and keeps
the split for the readout (:mod:`labelloop.services.experiment_readout`). Items imported after
the split are in no arm.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, MediaRef, NewItem
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("demo", LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]}),
    ...                            "user:me")
    ...     _ = tx.items.add_many(p.id, [NewItem({"t": MediaRef.from_text(f"x{i}")}, f"{i:064x}")
    ...                                  for i in range(10)], created_by="me")
    >>> e = create_experiment(store, "demo", "prefill", {"prefill": "on"}, {"prefill": "off"}, seed=1)
    >>> e.items, e.arms["b"]
    ({'a': 5, 'b': 5}, {'prefill': False})
    >>> store.close()
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labelloop.active import split_arms
from labelloop.core import Actor, Suggestion
from labelloop.errors import Conflict, InputRejected
from labelloop.storage import Store
from labelloop.storage.experiments_repo import RUNNING, ExperimentRepo, ExperimentRow, TaskRules

__all__ = [
    "ARMS",
    "ARM_KEYS",
    "SCOPES",
    "ArmStrategy",
    "ExperimentInfo",
    "arm_view",
    "create_experiment",
    "experiment_key",
    "get_experiment",
    "list_experiments",
    "parse_arm_options",
    "stop_experiment",
]

ARMS = ("a", "b")
ARM_KEYS = ("prefill", "backend", "guideline", "accept_threshold")
SCOPES = ("all", "unlabelled")
MAX_GUIDELINE = 5000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_ON = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}
_THRESHOLD = "a number in (0, 1] (a floor on the calibrated score of the arm's auto-accepted labels)"


@dataclass(frozen=True, slots=True)
class ArmStrategy:
    """How one arm's tasks are shown.

    Attributes:
        prefill: Show the model's suggestions pre-filled (off: the task is blind).
        backend: Show only this backend's suggestions (None: every backend's).
        model_version: ... and only this model version's (None: any).
        guideline: Guidelines shown with the task (None: the project's).
        accept_threshold: Floor on the calibrated score of auto-accepted labels (None: the
            certified threshold alone).

    Example:
        >>> ArmStrategy.parse("a", {"backend": "text.rules@2", "guideline": "Mark whole names."}).to_json()
        {'prefill': True, 'backend': 'text.rules', 'model_version': '2', 'guideline': 'Mark whole names.'}
        >>> ArmStrategy.parse("b", {"prefill": "off"}).describe()
        'prefill off'
        >>> ArmStrategy.parse("b", {"accept_threshold": "0.95"}).describe()
        'prefill on, accept threshold 0.95 (floor on the certified one)'
    """

    prefill: bool = True
    backend: str | None = None
    model_version: str | None = None
    guideline: str | None = None
    accept_threshold: float | None = None

    @classmethod
    def parse(cls, arm: str, spec: Mapping[str, Any]) -> ArmStrategy:
        """Validate an arm's settings (from JSON or from ``key=value`` strings).

        Raises:
            InputRejected: an unknown key, a value of the wrong kind, an unsupported combination.
        """
        unknown = sorted(set(spec) - set(ARM_KEYS))
        if unknown:
            raise InputRejected(
                f"arm {arm}", f"settings among {', '.join(ARM_KEYS)}", f"{', '.join(map(repr, unknown))}"
            )
        prefill = _flag(arm, spec.get("prefill", True))
        backend, version = _backend(arm, spec.get("backend"))
        if backend is not None and not prefill:
            raise InputRejected(f"arm {arm}: backend", "prefill on (the backend's suggestion is what is pre-filled)",
                                "prefill off")  # fmt: skip
        guideline = spec.get("guideline")
        if guideline is not None and (not isinstance(guideline, str) or not 1 <= len(guideline) <= MAX_GUIDELINE):
            got = f"{len(guideline)} characters" if isinstance(guideline, str) else type(guideline).__name__
            raise InputRejected(f"arm {arm}: guideline", f"text of 1-{MAX_GUIDELINE} characters", got)
        threshold = spec.get("accept_threshold")
        return cls(prefill, backend, version, guideline, None if threshold is None else _threshold(arm, threshold))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ArmStrategy:
        """A stored strategy (written by :meth:`to_json`, trusted)."""
        t = doc.get("accept_threshold")
        return cls(
            bool(doc.get("prefill", True)), doc.get("backend"), doc.get("model_version"), doc.get("guideline"),
            None if t is None else float(t),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The stored form: ``prefill`` always, the other settings when set."""
        out: dict[str, Any] = {"prefill": self.prefill}
        for k in ("backend", "model_version", "guideline", "accept_threshold"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    def shows(self, s: Suggestion) -> bool:
        """Whether a task of this arm shows the suggestion ``s``."""
        if not self.prefill:
            return False
        if self.backend is not None and s.backend != self.backend:
            return False
        return self.model_version is None or s.model_version == self.model_version

    def hides(self, backend: str) -> bool:
        """Whether a task of this arm shows no suggestion of ``backend`` at all (its labels are blind to it).

        Example:
            >>> ArmStrategy(prefill=False).hides("m"), ArmStrategy(backend="x").hides("m"), ArmStrategy().hides("m")
            (True, True, False)
        """
        return not self.prefill or (self.backend is not None and self.backend != backend)

    def describe(self) -> str:
        """One line for people."""
        parts = [f"prefill {'on' if self.prefill else 'off'}"]
        if self.backend is not None:
            parts.append(f"backend {self.backend}" + (f"@{self.model_version}" if self.model_version else ""))
        if self.guideline is not None:
            g = self.guideline if len(self.guideline) <= 40 else self.guideline[:37] + "..."
            parts.append(f"guideline {g!r}")
        if self.accept_threshold is not None:
            parts.append(f"accept threshold {self.accept_threshold:g} (floor on the certified one)")
        return ", ".join(parts)


def _flag(arm: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in _ON:
        return _ON[v.strip().lower()]
    raise InputRejected(f"arm {arm}: prefill", "on or off (true or false)", repr(v)[:50])


def _threshold(arm: str, v: Any) -> float:
    """An arm's ``accept_threshold``: a number (or its text) in (0, 1]."""
    x: float | None = None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            x = None
    if x is None or not math.isfinite(x) or not 0.0 < x <= 1.0:
        raise InputRejected(f"arm {arm}: accept_threshold", _THRESHOLD, repr(v)[:50])
    return x


def _backend(arm: str, v: Any) -> tuple[str | None, str | None]:
    if v is None:
        return None, None
    if not isinstance(v, str) or not 1 <= len(v) <= 200:
        raise InputRejected(f"arm {arm}: backend", "a backend name, or name@model_version", repr(v)[:50])
    name, _, version = v.partition("@")
    if not name or (_ and not version):
        raise InputRejected(f"arm {arm}: backend", "a backend name, or name@model_version", repr(v)[:50])
    return name, version or None


def parse_arm_options(arm: str, options: Sequence[str]) -> dict[str, str]:
    """``key=value`` strings (the CLI's ``--a prefill=off``) as a mapping for :meth:`ArmStrategy.parse`.

    Example:
        >>> parse_arm_options("a", ["prefill=on", "guideline=Be brief, be right."])
        {'prefill': 'on', 'guideline': 'Be brief, be right.'}

    Raises:
        InputRejected: an option without ``=``, or a key given twice.
    """
    out: dict[str, str] = {}
    for opt in options:
        key, eq, value = opt.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputRejected(f"--{arm} {opt!r}", "key=value (e.g. prefill=off)", "no '='" if not eq else "no key")
        if key in out:
            raise InputRejected(f"--{arm} {key}", "each setting once", "it twice")
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class ExperimentInfo:
    """An experiment and how many items each arm has."""

    id: int
    project_id: int
    name: str
    status: str
    arms: dict[str, dict[str, Any]]
    seed: int
    scope: str
    items: dict[str, int]
    created_at: datetime
    created_by: str
    stopped_at: datetime | None
    stopped_by: str | None

    @classmethod
    def of(cls, row: ExperimentRow, items: dict[str, int]) -> ExperimentInfo:
        """From a stored row and its per-arm counts."""
        counts = {arm: items.get(arm, 0) for arm in ARMS}
        return cls(
            row.id, row.project_id, row.name, row.status, row.arms, row.seed, row.scope, counts, row.created_at,
            row.created_by, row.stopped_at, row.stopped_by,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The wire form (times in ISO 8601)."""
        return {
            "id": self.id, "project_id": self.project_id, "name": self.name, "status": self.status,
            "arms": self.arms, "described": {k: ArmStrategy.from_json(v).describe() for k, v in self.arms.items()},
            "seed": self.seed, "scope": self.scope, "items": self.items, "created_at": self.created_at.isoformat(),
            "created_by": self.created_by, "stopped_by": self.stopped_by,
            "stopped_at": None if self.stopped_at is None else self.stopped_at.isoformat(),
        }  # fmt: skip


def _check_request(name: str, a: ArmStrategy, b: ArmStrategy, seed: int | None, scope: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name) or name.isdigit():
        raise InputRejected("experiment name", "1-100 letters, digits and . _ + - (starting alphanumeric, "
                            "not all digits: digits name an experiment by id)", repr(name)[:60])  # fmt: skip
    if a == b:
        raise InputRejected("arms", "two different strategies", f"the same one twice ({a.describe()})")
    if scope not in SCOPES:
        raise InputRejected("scope", " or ".join(SCOPES), repr(scope)[:30])
    if seed is not None and not 0 <= seed < 2**63:
        raise InputRejected("seed", "an integer from 0 to 2**63 - 1", str(seed))


def create_experiment(
    store: Store,
    project: str | int,
    name: str,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    seed: int | None = None,
    scope: str = "all",
    actor: str | None = None,
) -> ExperimentInfo:
    """Start an experiment: validate both arms, split the items at random, store the split.

    Args:
        store: The store.
        project: Project name or id.
        name: Experiment name, unique in the project.
        a: Arm ``a``'s settings (see :class:`ArmStrategy`; values may be strings, as from the CLI).
        b: Arm ``b``'s settings.
        seed: Seed of the split (default: a random one, stored).
        scope: ``all`` items, or the ``unlabelled`` ones (no annotation version yet).
        actor: Who starts it (default ``system:experiment``).

    Returns:
        The experiment with its items per arm.

    Raises:
        NotFound: no such project.
        InputRejected: a bad name, arm, scope or seed; a backend with no suggestion in the
            project; no item to split. Nothing is written.
        Conflict: the name is taken, or items are in another running experiment. Nothing is written.
    """
    arm_a, arm_b = ArmStrategy.parse("a", a), ArmStrategy.parse("b", b)
    _check_request(name, arm_a, arm_b, seed, scope)
    used_seed = secrets.randbelow(2**31) if seed is None else seed
    who = actor or Actor.system("experiment")
    with store.transaction() as tx:
        proj = tx.projects.get(project)
        repo = ExperimentRepo(tx.conn)
        if repo.find(proj.id, name) is not None:
            raise Conflict(f"experiment {name!r} already exists in project {proj.name!r}")
        for arm, s in (("a", arm_a), ("b", arm_b)):
            if s.backend is not None and not repo.has_suggestions(proj.id, s.backend, s.model_version):
                shown = s.backend + (f"@{s.model_version}" if s.model_version else "")
                raise InputRejected(f"arm {arm}: backend", "a backend with suggestions in the project",
                                    f"{shown!r}, which has none (run labelloop preannotate first)")  # fmt: skip
        found = repo.candidates(proj.id, unlabelled=scope == "unlabelled")
        busy: dict[int, int] = {}
        for _item, other in found:
            if other is not None:
                busy[other] = busy.get(other, 0) + 1
        if busy:
            names = repo.names(sorted(busy))
            listed = ", ".join(f"{names.get(e, e)!r} ({n} items)" for e, n in sorted(busy.items()))
            raise Conflict(f"items of project {proj.name!r} are already in a running experiment: {listed}; "
                           "stop it first (labelloop experiment stop)")  # fmt: skip
        if not found:
            raise InputRejected(f"experiment {name!r}", f"items to split ({scope})", "none")
        in_b = split_arms(len(found), used_seed)
        arms = {"a": arm_a.to_json(), "b": arm_b.to_json()}
        eid = repo.add(proj.id, name, arms, used_seed, scope, who)
        rows = [(item, "b" if flag else "a") for (item, _o), flag in zip(found, in_b.tolist(), strict=True)]
        repo.add_items(eid, proj.id, rows)
        tx.provenance.append(
            "experiment.create", actor=who, project_id=proj.id,
            subject={"table": "experiments", "ids": [[eid, eid]]},
            payload={"name": name, "arms": arms, "seed": used_seed, "scope": scope, "items": len(rows)},
        )  # fmt: skip
        return ExperimentInfo.of(repo.get(proj.id, eid), repo.arm_counts(eid))


def experiment_key(key: int | str) -> int | str:
    """An experiment key from the CLI or API: an id (all digits) or a name.

    Example:
        >>> experiment_key("12"), experiment_key("v2-test")
        (12, 'v2-test')
    """
    return int(key) if isinstance(key, str) and key.isdigit() else key


def get_experiment(store: Store, project: str | int, key: int | str) -> ExperimentInfo:
    """One experiment by id or name.

    Raises:
        NotFound: no such project or experiment.
    """
    with store.read() as tx:
        proj = tx.projects.get(project)
        repo = ExperimentRepo(tx.conn)
        row = repo.get(proj.id, experiment_key(key))
        return ExperimentInfo.of(row, repo.arm_counts(row.id))


def list_experiments(store: Store, project: str | int) -> list[ExperimentInfo]:
    """The project's experiments, oldest first.

    Raises:
        NotFound: no such project.
    """
    with store.read() as tx:
        proj = tx.projects.get(project)
        repo = ExperimentRepo(tx.conn)
        return [ExperimentInfo.of(row, repo.arm_counts(row.id)) for row in repo.of_project(proj.id)]


def stop_experiment(store: Store, project: str | int, key: int | str, *, actor: str | None = None) -> ExperimentInfo:
    """Stop a running experiment: its arms no longer apply to tasks; the split stays for the readout.

    Raises:
        NotFound: no such project or experiment.
        Conflict: it was stopped already.
    """
    who = actor or Actor.system("experiment")
    with store.transaction() as tx:
        proj = tx.projects.get(project)
        repo = ExperimentRepo(tx.conn)
        row = repo.get(proj.id, experiment_key(key))
        if row.status != RUNNING or not repo.stop(row.id, who):
            raise Conflict(f"experiment {row.name!r} was already stopped")
        tx.provenance.append(
            "experiment.stop", actor=who, project_id=proj.id,
            subject={"table": "experiments", "ids": [[row.id, row.id]]}, payload={"name": row.name},
        )  # fmt: skip
        return ExperimentInfo.of(repo.get(proj.id, row.id), repo.arm_counts(row.id))


def arm_view(rules: TaskRules | None, suggestions: list[Suggestion]) -> tuple[list[Suggestion], bool, str | None]:
    """What a person's task shows: ``(suggestions, blind, guideline)`` under the item's routing tier and arm.

    ``rules`` None (a reviewer's or manager's view of the item) shows everything. A blind routing
    tier hides every suggestion whatever the arm; an arm with ``prefill`` off does too (the task is
    blind); an arm with a ``backend`` shows only its suggestions.

    Example:
        >>> arm_view(TaskRules(False, 1, "b", {"prefill": False, "guideline": "v2"}), [])
        ([], True, 'v2')
    """
    if rules is None:
        return suggestions, False, None
    arm = None if rules.strategy is None else ArmStrategy.from_json(rules.strategy)
    guideline = None if arm is None else arm.guideline
    if rules.tier_blind or (arm is not None and not arm.prefill):
        return [], True, guideline
    if arm is None:
        return suggestions, False, None
    return [s for s in suggestions if arm.shows(s)], False, guideline
