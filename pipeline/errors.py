"""Typed errors. The library raises these; the CLI turns them into clear messages."""


class TrawlError(Exception):
    """Base class for every error Trawl reports to a user."""


class ConfigError(TrawlError):
    """The configuration file is missing, malformed or has unknown keys."""


class ManifestError(TrawlError):
    """A case manifest is invalid. Raised before any work starts."""


class ServiceError(TrawlError):
    """A service (Elasticsearch, Tika) could not be fetched, started, reached or stopped."""


class ArtifactError(ServiceError):
    """A downloaded artifact is missing or fails verification."""


class QuerySyntaxError(TrawlError):
    """A search query cannot be parsed."""


class CaseNotFoundError(TrawlError):
    """No index exists for the named case."""


class IndexingError(TrawlError):
    """Documents could not be written to Elasticsearch."""


class SourceFormatError(TrawlError):
    """A source file is not in a format its reader can read.

    Raised inside readers and turned into an exception record, never into a failed job.
    """

    def __init__(self, message: str, reason: str = "corrupt"):
        super().__init__(message)
        self.reason = reason


class RecordMappingError(TrawlError):
    """A case-management mapping file (conf/records/*.yaml) is missing or invalid.

    Raised before any work starts, with every problem listed together.
    """


class RecordExportError(TrawlError):
    """A case-management export cannot be read at all (not one of its rows).

    Raised inside the readers and turned into an exception record for the file, never into a
    failed job. Problems with single rows become rejects instead.
    """


class ExportError(TrawlError):
    """An export could not be written (unknown format, unwritable path)."""


class ReportError(TrawlError):
    """A report cannot be made as asked (unknown custodian, unknown format)."""


class BenchError(TrawlError):
    """The benchmark cannot run as asked (services down, an unknown size)."""
