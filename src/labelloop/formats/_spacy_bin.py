"""A spaCy ``DocBin`` fed with a tokenised doc and its annotations (imported only with spaCy).

``DocBin.add(doc)`` reads nine string properties of every token (text, tag, lemma, norm,
morph, dep, entity type, KB id, entity id) to collect the strings the file must carry, and
serialises the doc's span groups and user data with a new msgpack packer each: most of a
labels-only spaCy export. :meth:`DocBinWriter.add_parts` takes what the exporter already
holds (the tokenised doc, the entity and span-group spans, the categories, the user data)
and stores exactly what ``DocBin.add`` stores for the doc annotated with them, with less
Python per doc:

* the strings of the token columns are collected once per shard, in :meth:`to_bytes`, from
  the distinct hashes of the string-valued columns (the ones those nine properties read);
* span groups and user data are packed as ``SpanGroups.to_bytes`` and ``DocBin.add`` pack
  them, with one reused packer instead of one per call.

The bytes written are the ones ``DocBin`` writes for the same annotated docs
(tests/formats/test_format_spacy.py compares them), so every reader of ``.spacy`` files,
``spacy train`` included, reads them unchanged.

Example:
    >>> import spacy
    >>> nlp = spacy.blank("en")
    >>> db = DocBinWriter()
    >>> doc = nlp.make_doc("Ada met Bob")
    >>> doc.set_ents([doc.char_span(0, 3, label="PER")])
    >>> db.add_parts(doc, {}, {}, {})
    >>> got = next(DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab))
    >>> [(e.text, e.label_) for e in got.ents]
    [('Ada', 'PER')]
"""

from __future__ import annotations

import struct
from collections.abc import Container, Mapping, Sequence
from typing import Any, cast

import numpy
from spacy.attrs import DEP, ENT_ID, ENT_KB_ID, ENT_TYPE, LEMMA, MORPH, NORM, ORTH, SPACY, TAG
from spacy.strings import StringStore
from spacy.tokens import Doc, DocBin, Span
from spacy.tokens._dict_proxies import SpanGroups
from srsly.msgpack import Packer  # type: ignore[import-untyped]

__all__ = ["DocBin", "DocBinWriter"]

# The token attributes whose values are string hashes: the ones DocBin.add reads as strings.
_STRING_ATTRS = frozenset({ORTH, NORM, TAG, DEP, ENT_TYPE, ENT_KB_ID, ENT_ID, LEMMA, MORPH})
_SPAN = struct.Struct(">QQQllll")  # SpanGroup.to_bytes: id, kb_id, label, start, end, start_char, end_char


def _hashes(store: StringStore) -> Container[int]:
    """``store`` as a container of hashes (``in`` takes a hash or a string; the stub knows strings)."""
    return cast("Container[int]", store)


class DocBinWriter(DocBin):
    """``DocBin`` (all attributes, user data stored) filled by :meth:`add_parts`."""

    def __init__(self) -> None:
        super().__init__(store_user_data=True)
        self._columns = [*self.attrs, SPACY]
        self._stores: list[StringStore] = []
        self._pack = Packer(use_bin_type=True).pack  # as srsly.msgpack_dumps, built once

    def add_parts(
        self,
        doc: Doc,
        groups: Mapping[str, Sequence[Span]],
        cats: dict[str, float],
        user_data: dict[str, Any],
    ) -> None:
        """Store ``doc`` as ``DocBin.add`` stores it once annotated with the given parts.

        Args:
            doc: The tokenised doc; its token attributes (entities included) are stored as
                they are, its ``spans``, ``cats`` and ``user_data`` are not read.
            groups: ``doc.spans``: span-group name -> its spans (an empty list is kept).
            cats: ``doc.cats``.
            user_data: ``doc.user_data``.
        """
        both = doc.to_array(self._columns)
        self.tokens.append(both[:, :-1])
        self.spaces.append(numpy.asarray(both[:, -1:], dtype=bool))
        self.flags.append({"has_unknown_spaces": doc.has_unknown_spaces})
        self.cats.append(cats)
        self.user_data.append(self._pack(user_data))
        self.span_groups.append(self._span_groups(doc, groups))
        strings = doc.vocab.strings
        if not any(s is strings for s in self._stores):  # one vocab in practice
            self._stores.append(strings)

    def _span_groups(self, doc: Doc, groups: Mapping[str, Sequence[Span]]) -> bytes:
        """``doc.spans.to_bytes()`` for these groups (and their strings noted, as ``DocBin.add`` does)."""
        if not groups:
            return SpanGroups._EMPTY_BYTES  # type: ignore[no-any-return]
        strings, known = self.strings, _hashes(doc.vocab.strings)
        msg: dict[bytes, list[str]] = {}
        for name, spans in groups.items():
            packed = []
            for s in spans:
                packed.append(_SPAN.pack(s.id, s.kb_id, s.label, s.start, s.end, s.start_char, s.end_char))
                strings.add(s.label_)
                if s.kb_id in known:
                    strings.add(s.kb_id_)
                if s.id in known:
                    strings.add(s.id_)
            group = self._pack({"name": name, "attrs": {}, "spans": packed})
            msg.setdefault(group, []).append(name)
        return self._pack(msg)  # type: ignore[no-any-return]

    def to_bytes(self) -> bytes:
        """Serialise as ``DocBin.to_bytes``, after adding the strings of every token's string columns.

        Raises:
            ValueError: when a token hash has no string in the vocab (the file could not be loaded).
        """
        if self.tokens:
            cols = [i for i, attr in enumerate(self.attrs) if attr in _STRING_ATTRS]
            strings, stores = self.strings, [(s, _hashes(s)) for s in self._stores]
            for h in numpy.unique(numpy.vstack(self.tokens)[:, cols]).tolist():
                for store, known in stores:
                    if h in known:
                        strings.add(store[h])
                        break
                else:  # get_docs could not load such a file
                    raise ValueError(f"token attribute hash {h} has no string in the vocab")
        data: bytes = super().to_bytes()
        return data
