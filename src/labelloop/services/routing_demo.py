"""The demo's routing step: tiers and a quality certificate on the digits the image demo samples from.

The image demo holds 100 of scikit-learn's handwritten digits, too few to certify anything (98%
at 95% confidence needs at least 149 clean audited items), so the step runs the human-effort
simulation (:mod:`labelloop.services.simulate`) on all 1,797 of them: a representative first
batch and margin-sampled batches are labelled, label spreading suggests the rest, a blind audit
certifies an auto-accept threshold, and every item lands in the auto-accept, review or manual
tier. The certificate is written as JSON next to the QC reports.

Example:
    >>> lines = []
    >>> cert = routing_demo(lambda name, detail: lines.append(name))
    >>> lines[:2], cert is not None and cert.holds
    (['routing', 'certificate'], True)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labelloop.active import QualityCertificate, min_clean_audits
from labelloop.errors import InputRejected, NotFound
from labelloop.services.live_routing import RoutePolicy, RouteReport, route_project
from labelloop.services.simulate import SimConfig, simulate
from labelloop.storage import Store

__all__ = ["live_route_demo", "routing_demo"]


def routing_demo(
    step: Callable[[str, str], None], out_dir: Path | None = None, *, seed: int = 0
) -> QualityCertificate | None:
    """Route the digits with simulated people; report the tiers and the certificate through ``step``.

    Args:
        step: Receives ``(step name, detail)`` lines.
        out_dir: Where to write ``routing-certificate.json`` (not written when ``None``).
        seed: Seed of the simulation.

    Returns:
        The certificate, or ``None`` when scikit-learn (the ``demo`` extra) is missing.
    """
    cfg = SimConfig()
    try:
        r = simulate("digits", "active", config=cfg, seed=seed)
    except ImportError as exc:
        step("routing", f"skipped ({exc}; install labelloop[demo])")
        return None
    c = r.certificate
    if c is None:  # the active strategy always certifies or says why not
        step("routing", "no certificate")
        return None
    t = c.tiers
    step(
        "routing",
        f"digits, 1,797 items, simulated people: {r.trained_on} labelled to train the model, then tiers "
        f"auto-accept {t['auto']}, review {t['review']}, manual {t['manual']} (review includes "
        f"{c.audited} blind audits); human time {r.time_fraction:.2f} of labelling all by hand, final accuracy "
        f"{r.accuracy:.3f}",
    )
    if c.threshold is None:
        step("certificate", f"nothing auto-accepted: at least {min_clean_audits(c.target, c.confidence)} clean audits")
    else:
        auto_acc = "n/a" if r.auto_accuracy is None else f"{r.auto_accuracy:.4f}"
        step(
            "certificate",
            f"auto-accept at routing score >= {c.threshold:.2f}: {c.audited_correct}/{c.audited} audited labels "
            f"right, {c.confidence:.0%} interval [{c.ci[0]:.4f}, {c.ci[1]:.4f}], one-sided lower bound "
            f"{c.lower:.4f} {'>=' if c.holds else '<'} target {c.target:.0%} ({'holds' if c.holds else 'FAILS'}); "
            f"accuracy of the auto-accepted labels against gold {auto_acc}",
        )
    per = ", ".join(f"{k}: {v.auto} auto / {v.correct}/{v.audited} audited" for k, v in c.per_class.items())
    step("certificate", f"per class: {per}")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "routing-certificate.json"
        path.write_text(c.to_json(), encoding="utf-8")
        step("certificate", f"written to {path}")
    return c


def live_route_demo(
    store: Store, step: Callable[[str, str], None], project: str = "text-demo", backend: str = "text.classify"
) -> RouteReport | None:
    """Route a demo project's stored suggestions for real (``labelloop route``) and report the tiers.

    The demo's labelled items trained the backend, so they are no evidence about it: nothing is
    auto-accepted yet, a few items go to blind audit, and the step says how many clean audited
    items would unlock auto-accept.

    Returns:
        The run's report, or None when the project has no suggestion from ``backend``.
    """
    try:
        r = route_project(store, project, backend, policy=RoutePolicy(audit_rate=0.05, manual_below=0.5))
    except (InputRejected, NotFound) as exc:
        step("route", f"{project}: skipped ({exc})")
        return None
    t = r.tiers
    ev = r.certificate["evidence"]
    step(
        "route",
        f"{project}: live routing of {backend}@{r.model_version}: auto {t['auto']}, review {t['review']}, "
        f"manual {t['manual']}, blind audit {t['audit']}; evidence: {ev.get('clean', 0)} clean, "
        f"{ev.get('in_sample', 0)} labels the model trained on (not evidence)",
    )
    step("route", f"{project}: {r.message} (labelloop route --certificate {project})")
    return r
