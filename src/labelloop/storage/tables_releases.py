"""Tables of dataset releases: immutable snapshots of which label version each item carries.

* ``releases`` — one row per release: its project, a name unique in the project, the parent
  release, the moment it freezes (``as_of``), counts, the Merkle root over its label records
  and the signature of that root. Once sealed (``merkle_root`` set) a row is never changed
  again: database triggers refuse UPDATE of a sealed row and DELETE of any row.
* ``release_labels`` — one row per item in the release: the annotation version chosen (the
  current submitted version at ``as_of``; NULL for an unlabelled item) or, where a release is
  made from machine output, the suggestion chosen. Append-only like the label records.
"""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from labelloop.storage.tables import JsonType, Sha256, UTCDateTime, metadata

__all__ = ["release_labels", "releases"]

releases = Table(
    "releases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("parent_id", ForeignKey("releases.id"), nullable=True),
    Column("as_of", UTCDateTime(), nullable=False),
    Column("items", Integer, nullable=False),
    Column("labelled", Integer, nullable=False),
    Column("regions", Integer, nullable=False),
    Column("merkle_root", String(64), nullable=True),
    Column("signature", Text, nullable=True),
    Column("key_id", String(64), nullable=True),
    Column("quality", JsonType, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_releases_project_name"),
)

release_labels = Table(
    "release_labels",
    metadata,
    Column("release_id", ForeignKey("releases.id"), primary_key=True),
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("annotation_id", ForeignKey("annotations.id"), nullable=True),
    Column("suggestion_id", ForeignKey("suggestions.id"), nullable=True),
    Column("record_sha256", Sha256(), nullable=False),
    Index("ix_release_labels_annotation", "annotation_id"),
)
