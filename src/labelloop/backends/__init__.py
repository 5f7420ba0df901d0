"""L2 pre-annotation backends. Each backend lives in its own module; heavy imports stay inside it.

Backends are found through the plugin manager (:mod:`labelloop.plugins`), never imported by
name elsewhere. This package imports nothing heavy: ``import labelloop.backends`` loads only the
helpers below.

Built-ins:

* ``text.rules`` (:mod:`labelloop.backends.text_rules`): regex / dictionary / gazetteer rules.
* ``pointcloud.cuboids`` (:mod:`labelloop.backends.pointcloud_cuboids`): RANSAC ground,
  DBSCAN clusters, oriented boxes, classes from size priors.
* ``image.classify`` (:mod:`labelloop.backends.image_classify`): few-shot classification
  trained on the project's labels.
"""

from __future__ import annotations

from labelloop.backends.base import BaseBackend, media_of, supported_controls

__all__ = ["BaseBackend", "media_of", "supported_controls"]
