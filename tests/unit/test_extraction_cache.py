"""The per-process cache of Tika's answers, and how many tasks the read stage uses."""

from pipeline.extract import Extraction, ExtractionCache, TextExtractor
from pipeline.transforms.ingest import read_partition_count


class CountingExtractor(TextExtractor):
    """A real TextExtractor whose Tika call is replaced by a counter, to see what is cached."""

    def __init__(self, tika, cache, answer):
        super().__init__(tika, cache)
        self.answer = answer
        self.calls = 0

    def _extract_with_tika(self, body, file_name, write_limit=None):
        self.calls += 1
        return self.answer


def test_same_bytes_are_sent_to_tika_once(base_config):
    extractor = CountingExtractor(base_config.tika, ExtractionCache(),
                                  Extraction("quarterly figures", "tika"))
    first = extractor.extract(b"%PDF-1.4 report", "a.pdf", "application/pdf")
    second = extractor.extract(b"%PDF-1.4 report", "copy of a.pdf", "application/pdf")
    other = extractor.extract(b"%PDF-1.4 another", "b.pdf", "application/pdf")
    assert extractor.calls == 2
    assert first == second == other == Extraction("quarterly figures", "tika")


def test_failures_that_depend_on_the_server_are_retried_next_time(base_config):
    cache = ExtractionCache()
    down = CountingExtractor(base_config.tika, cache,
                             Extraction(None, "none", "tika_unavailable", "refused"))
    down.extract(b"PK\x03\x04 doc", "a.docx", None)
    down.extract(b"PK\x03\x04 doc", "a.docx", None)
    assert down.calls == 2
    encrypted = CountingExtractor(base_config.tika, cache,
                                  Extraction(None, "none", "encrypted", "password"))
    encrypted.extract(b"PK\x03\x04 locked", "b.docx", None)
    encrypted.extract(b"PK\x03\x04 locked", "b.docx", None)
    assert encrypted.calls == 1


def test_ocr_and_plain_extractions_are_kept_apart(base_config):
    cache = ExtractionCache()
    plain = CountingExtractor(base_config.tika, cache, Extraction("", "tika"))
    with_ocr = CountingExtractor(base_config.tika.__class__(**{**base_config.tika.__dict__,
                                                               "ocr": True}),
                                 cache, Extraction("hello world", "tika"))
    plain.extract(b"II*\x00 scan", "scan.tif", "image/tiff")
    assert with_ocr.extract(b"II*\x00 scan", "scan.tif", "image/tiff").text == "hello world"
    assert (plain.calls, with_ocr.calls) == (1, 1)


def test_the_cache_forgets_the_least_recently_used_first():
    cache = ExtractionCache(max_entries=2)
    for key in ("a", "b"):
        cache.put(key, Extraction(key, "tika"))
    cache.get("a")
    cache.put("c", Extraction("c", "tika"))
    assert cache.get("b") is None
    assert cache.get("a").text == "a" and cache.get("c").text == "c"


def test_read_tasks_follow_the_bytes_not_the_number_of_files():
    eight_mb = 8 * 1024 * 1024
    # 5,000 small EML files and a few mbox splits, 200 MB in all: about one task per 8 MB.
    assert read_partition_count(5257, 200 * 1024 * 1024, eight_mb, 2) == 25
    # A handful of small files still use every core, twice over.
    assert read_partition_count(10, 1000, eight_mb, 2) == 4
    # Never more tasks than units.
    assert read_partition_count(3, 10**12, eight_mb, 2) == 3
    assert read_partition_count(0, 0, eight_mb, 2) == 1


def test_an_answer_cut_by_tikas_write_limit_says_where():
    import json

    answer = [{"Content-Type": "application/pdf", "X-TIKA:content": "Hello wo",
               "X-TIKA:EXCEPTION:write_limit_reached": "true"}]
    cut = TextExtractor._text_from_rmeta(json.dumps(answer), 8)
    assert cut == Extraction("Hello wo", "tika", detected_type="application/pdf", cut_at=8)
    del answer[0]["X-TIKA:EXCEPTION:write_limit_reached"]
    assert TextExtractor._text_from_rmeta(json.dumps(answer), 8).cut_at is None
