"""The built-in backends, registered through the ``labelloop.plugins`` entry point like any plugin.

Factories are named as strings, so nothing under :mod:`labelloop.backends` is imported until a
backend is created.
"""

from __future__ import annotations

from labelloop.plugins.hookspecs import RegisterBackend

__all__ = ["register_backends"]


def register_backends(register: RegisterBackend) -> None:
    """Register ``text.rules``, ``pointcloud.cuboids`` and ``image.classify``."""
    register(
        "text.rules",
        "labelloop.backends.text_rules:create",
        description="regex / dictionary / gazetteer spans and classes from project rules (en, zh)",
        example_config={
            "rules": [
                {
                    "name": "cities",
                    "kind": "dictionary",
                    "control": "entities",
                    "label": "LOC",
                    "terms": ["北京", "Paris"],
                },
                {"name": "praise", "kind": "regex", "control": "sentiment", "label": "pos", "pattern": "(?i)great|好"},
            ]
        },
    )
    register(
        "pointcloud.cuboids",
        "labelloop.backends.pointcloud_cuboids:create",
        description="LiDAR cuboids: RANSAC ground, DBSCAN clusters, oriented boxes, classes from size priors",
        example_config={},
    )
    register(
        "image.classify",
        "labelloop.backends.image_classify:create",
        description="few-shot image classes: HOG + logistic regression trained on the project's labels",
        example_config={},
    )
