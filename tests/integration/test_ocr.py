"""Tier 3: OCR through the real Tika server, off by default and switched on in conf."""

import dataclasses
import shutil

import pytest

from pipeline.extract import TextExtractor

from helpers import corpus_path

pytestmark = pytest.mark.integration


def test_image_text_needs_ocr_switched_on(es_client, test_config):
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (Debian: tesseract-ocr; make installs it as root)")
    image = corpus_path("aleph", "hello_world_tiff.tif").read_bytes()
    default = TextExtractor(test_config.tika).extract(image, "hello_world_tiff.tif", "image/tiff")
    assert test_config.tika.ocr is False
    assert "hello" not in (default.text or "").lower()
    with_ocr = dataclasses.replace(test_config.tika, ocr=True, timeout=180)
    result = TextExtractor(with_ocr).extract(image, "hello_world_tiff.tif", "image/tiff")
    assert result.error_reason is None, result.error_message
    assert "hello" in result.text.lower() and "world" in result.text.lower()
