"""`trawl`: the command line. Only click here; the work is done by the library underneath."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click

from pipeline import __version__
from pipeline.config import Config, load_config
from pipeline.errors import TrawlError


class TrawlGroup(click.Group):
    """Turns the library's typed errors into a clear message (exit status 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrawlError as exc:
            raise click.ClickException(str(exc)) from exc


def json_option(command: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print machine-readable JSON (the last line of stdout).")(command)


def pass_config(command: Callable) -> Callable:
    """Hands the command the frozen Config, loaded once from --config / TRAWL_CONFIG."""
    @click.pass_context
    @functools.wraps(command)
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        root = ctx.find_root()
        if "config" not in root.meta:
            root.meta["config"] = load_config(root.params.get("config_path"))
        return ctx.invoke(command, root.meta["config"], *args, **kwargs)
    return wrapper


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def progress_to_stderr(message: str) -> None:
    click.echo(message, err=True)


@click.group(cls=TrawlGroup)
@click.option("--config", "config_path", envvar="TRAWL_CONFIG", type=click.Path(dir_okay=False),
              help="A YAML overlay merged over conf/trawl.yaml (also TRAWL_CONFIG).")
@click.version_option(__version__, prog_name="trawl")
def main(config_path: str | None) -> None:
    """Trawl: ingest mailboxes into Elasticsearch, then search them and report on them."""


# --- services -------------------------------------------------------------------------------

@main.group()
def services() -> None:
    """Start, stop and check the embedded Elasticsearch and Tika servers."""


def _print_statuses(statuses: list[Any], as_json: bool) -> None:
    if as_json:
        emit_json([status.__dict__ for status in statuses])
        return
    for status in statuses:
        state = "healthy" if status.healthy else ("running" if status.running else "down")
        version = status.version or "-"
        click.echo(f"{status.name:<14} {state:<8} {version:<8} {status.url}  {status.detail}")


@services.command("up")
@json_option
@pass_config
def services_up(config: Config, as_json: bool) -> None:
    """Start Elasticsearch and Tika and wait until they are healthy."""
    from pipeline import services as lifecycle

    _print_statuses(lifecycle.up(config, progress=progress_to_stderr), as_json)


@services.command("down")
@json_option
@pass_config
def services_down(config: Config, as_json: bool) -> None:
    """Stop the servers that `trawl services up` started (and only those)."""
    from pipeline import services as lifecycle

    _print_statuses(lifecycle.down(config, progress=progress_to_stderr), as_json)


@services.command("status")
@json_option
@pass_config
def services_status(config: Config, as_json: bool) -> None:
    """Show each server's version and health."""
    from pipeline import services as lifecycle

    statuses = lifecycle.status(config)
    _print_statuses(statuses, as_json)
    if not all(status.healthy for status in statuses):
        sys.exit(1)


@main.command("fetch")
@pass_config
def fetch(config: Config) -> None:
    """Download and verify the Elasticsearch and Tika distributions (cached)."""
    from pipeline import artifacts

    for path in (artifacts.ensure_elasticsearch(config), artifacts.ensure_tika(config)):
        click.echo(str(path))


# --- demo -----------------------------------------------------------------------------------

@main.group()
def demo() -> None:
    """The demo case, built from the SpamAssassin public corpus."""


@demo.command("prepare")
@json_option
@pass_config
def demo_prepare(config: Config, as_json: bool) -> None:
    """Fetch the corpus (once) and write one mbox per folder plus the case manifest."""
    from pipeline import demo as demo_corpus

    corpus = demo_corpus.prepare(config, progress=progress_to_stderr)
    if as_json:
        emit_json({"manifest": str(corpus.manifest), "truth": corpus.truth,
                   "total": corpus.total})
    else:
        click.echo(f"{corpus.total} messages in {len(corpus.mailboxes)} mailboxes; "
                   f"manifest: {corpus.manifest}")


@demo.command("run")
@click.option("--query", default="money", show_default=True, help="The example search.")
@pass_config
def demo_run(config: Config, query: str) -> None:
    """Prepare the demo corpus, run the demo case, and show what it holds."""
    from pipeline import demo as demo_corpus
    from pipeline.index.client import connect
    from pipeline.run import run_manifest
    from pipeline.search import SearchRequest, search as run_search

    corpus = demo_corpus.prepare(config, progress=progress_to_stderr)
    summary = run_manifest(str(corpus.manifest), config)
    _print_run_summary(summary, as_json=False)
    click.echo(f"\nitems per custodian (the corpus holds {corpus.total} messages):")
    for custodian, count in summary.items_by_custodian.items():
        click.echo(f"  {custodian:<20} {count:>7}")
    click.echo(f"time taken: {summary.seconds}s\n")
    click.echo(f"example: trawl search {summary.case} {query} --limit 5")
    result = run_search(connect(config.elasticsearch), config.elasticsearch,
                        SearchRequest(case=summary.case, query=query, limit=5))
    _print_hits(result, summary.case)
    if summary.problems:
        sys.exit(1)


# --- run ------------------------------------------------------------------------------------

@main.command("run")
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(dir_okay=False))
@click.option("--master", help="Spark master URL (default: spark.master in conf, local[*]).")
@json_option
@pass_config
def run(config: Config, manifest_path: str, master: str | None, as_json: bool) -> None:
    """Ingest a case manifest's sources, stage them as Parquet and index them."""
    from pipeline.run import run_manifest

    summary = run_manifest(manifest_path, config, master)
    _print_run_summary(summary, as_json)
    if summary.problems:
        sys.exit(1)


def _print_run_summary(summary: Any, as_json: bool) -> None:
    for problem in summary.problems:
        click.echo(f"WARNING: {problem}", err=True)
    if as_json:
        emit_json(summary.to_dict())
        return
    click.echo(f"case {summary.case}: {summary.files} file(s), {summary.staged} record(s) "
               f"in {summary.seconds}s")
    for item_type, count in summary.items_by_type.items():
        click.echo(f"  {item_type:<12} {count:>9}")
    click.echo(f"  {summary.unique_items} unique, {summary.duplicate_items} duplicate(s) "
               f"({summary.dedup} dedup); {summary.threads} thread(s); "
               f"{summary.near_duplicate_groups} near-duplicate group(s)")
    click.echo(f"  indexed {summary.indexed} into {summary.index} (alias {summary.alias}), "
               f"{summary.index_failed} rejected")


# --- stats and search -----------------------------------------------------------------------

@main.command("stats")
@click.argument("case")
@json_option
@pass_config
def stats(config: Config, case: str, as_json: bool) -> None:
    """Counts of items, by type and by custodian, and of exceptions."""
    from pipeline.index.client import connect
    from pipeline.stats import case_stats

    figures = case_stats(connect(config.elasticsearch), config.elasticsearch, case)
    if as_json:
        emit_json(figures)
        return
    click.echo(f"case {figures['case']}: {figures['items']['total']} items "
               f"({figures['items']['unique']} unique), {figures['exceptions']} exceptions")
    for heading, key in (("type", "by_type"), ("custodian", "by_custodian")):
        click.echo(f"  by {heading}:")
        for name, counts in figures[key].items():
            click.echo(f"    {name:<30} {counts['total']:>9} {counts['unique']:>9} unique")


def _shorten(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


@main.command("search")
@click.argument("case")
@click.argument("query")
@click.option("--custodian", "custodians", multiple=True, metavar="NAME",
              help="Only items held by this custodian (repeatable).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only items dated on or after this day (UTC).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only items dated on or before this day (UTC).")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only this item type: email, attachment, exception (repeatable).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 10000),
              help="How many hits to show.")
@click.option("--duplicates", is_flag=True,
              help="Count and show every copy, not each item once (its master).")
@click.option("--export", "export_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="Write every hit (not only --limit) to PATH, with no 10,000-hit cap.")
@click.option("--format", "export_format", type=click.Choice(["csv", "jsonl"]),
              help="Export format; default: jsonl for a .jsonl PATH, else csv.")
@json_option
@pass_config
def search(config: Config, case: str, query: str, custodians: tuple[str, ...],
           date_from: Any, date_to: Any, types: tuple[str, ...], limit: int, duplicates: bool,
           export_path: str | None, export_format: str | None, as_json: bool) -> None:
    """Search a case (AND between words; w/N, pre/N, "phrases", wild*, fuzzy~1, field:value).

    Bare words search subject, body, addresses, file names, attachment text and case-record
    people; field:value reaches message_id, from, to, cc, custodian, subject and the other
    fields; date:[2002-01-01 TO 2002-06-30] ranges. Each item counts once, with every
    custodian holding a copy; --duplicates shows each copy.
    """
    from pipeline.index.client import connect
    from pipeline.search import SearchRequest, search as run_search

    request = SearchRequest(case=case, query=query, custodians=custodians,
                            date_from=date_from.date() if date_from else None,
                            date_to=date_to.date() if date_to else None, types=types,
                            limit=limit, duplicates=duplicates)
    client = connect(config.elasticsearch)
    if export_path:
        _export(client, config, request, export_path, export_format, as_json)
        return
    result = run_search(client, config.elasticsearch, request)
    if as_json:
        emit_json(result.to_dict())
        return
    _print_hits(result, case)


def _export(client: Any, config: Config, request: Any, path: str, fmt: str | None,
            as_json: bool) -> None:
    from pipeline.export import export_hits

    fmt = fmt or ("jsonl" if path.endswith((".jsonl", ".ndjson")) else "csv")

    def progress(done: int, total: int) -> None:
        click.echo(f"\rexported {done:,} of {total:,} hit(s)", err=True, nl=False)

    summary = export_hits(client, config.elasticsearch, request, path, fmt, progress=progress)
    click.echo("", err=True)
    if as_json:
        emit_json(summary.to_dict())
        return
    click.echo(f"{summary.exported} hit(s) of case {request.case} written to {summary.path} "
               f"({fmt}, {summary.seconds}s)")


def _print_hits(result: Any, case: str) -> None:
    click.echo(f"{result.total} hit(s) in case {case}; showing {len(result.hits)}")
    for hit in result.hits:
        click.echo(f"{hit.id[:12]}  {(hit.date or '')[:10]:<10}  {hit.type:<10}  "
                   f"{_shorten(', '.join(hit.custodians), 18):<18}  "
                   f"{_shorten(hit.from_, 30):<30}  {_shorten(hit.subject, 60)}")
        for fragment in hit.highlights[:1]:
            marked = fragment.replace("<em>", "«").replace("</em>", "»")
            click.echo(f"{'':14}… {_shorten(marked, 110)}")


# --- reports --------------------------------------------------------------------------------

@main.group()
def report() -> None:
    """Reports on a case: search-term hits, custodians."""


@report.command("terms")
@click.argument("case")
@click.argument("terms_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "html", "json"]),
              default="csv", show_default=True, help="Report format.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Where to write it (default: CASE-terms.FORMAT here).")
@click.option("--include-duplicates", is_flag=True,
              help="Count every copy, not only unique items.")
@pass_config
def report_terms(config: Config, case: str, terms_file: str, fmt: str, out_path: str | None,
                 include_duplicates: bool) -> None:
    """Hits, unique hits and family hits per search term (one per line; # comments)."""
    from pipeline.index.client import connect
    from pipeline.reports.render import write_report
    from pipeline.reports.terms import load_terms, term_report

    terms = load_terms(terms_file)
    result = term_report(connect(config.elasticsearch), config.elasticsearch, case, terms,
                         include_duplicates=include_duplicates)
    click.echo(str(write_report(result, fmt, out_path or f"{case}-terms.{fmt}")))


@report.command("custodians")
@click.argument("case")
@click.option("--custodian", metavar="NAME", help="Only this custodian (any letter case).")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html",
              show_default=True, help="Report format.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Where to write it (default: CASE-custodians.FORMAT here).")
@pass_config
def report_custodians(config: Config, case: str, custodian: str | None, fmt: str,
                      out_path: str | None) -> None:
    """Per custodian: items, duplicates, dates, volume per month, correspondents, threads,
    exceptions and linked case records."""
    from pipeline.index.client import connect
    from pipeline.reports.custodians import custodian_report
    from pipeline.reports.render import write_report

    result = custodian_report(connect(config.elasticsearch), config.elasticsearch, case,
                              custodian)
    click.echo(str(write_report(result, fmt, out_path or f"{case}-custodians.{fmt}")))


@main.command("sources")
@click.argument("case")
@json_option
@pass_config
def sources(config: Config, case: str, as_json: bool) -> None:
    """Chain of custody per evidence file, reconciled: records found = records indexed."""
    from pipeline.index.client import connect
    from pipeline.reconcile import reconcile

    report = reconcile(connect(config.elasticsearch), config.elasticsearch, case,
                       config.paths.case_dir(case))
    for gap in report["gaps"]:
        click.echo(f"GAP: {gap}", err=True)
    if as_json:
        emit_json(report)
    else:
        for row in report["sources"]:
            found = ", ".join(f"{n} {kind}" for kind, n in row["found"].items()) or "nothing"
            click.echo(f"{row['custodian']:<20} {row['format']:<10} {row['size']:>12}  "
                       f"{row['sha256'] or row['error']}  {row['path']}")
            click.echo(f"{'':20} found {found}; indexed {sum(row['indexed'].values())}")
        totals = report["totals"]
        click.echo(f"{totals['files']} file(s): {totals['found']} record(s) found, "
                   f"{totals['indexed']} indexed; "
                   + ("reconciled" if report["reconciled"] else "NOT RECONCILED"))
    if not report["reconciled"]:
        sys.exit(1)


@main.command("bench")
@click.option("--size", "sizes", multiple=True, type=click.IntRange(1000, None), metavar="N",
              help="Corpus size in messages (repeatable; default: bench.sizes in conf).")
@click.option("--large", is_flag=True, help="Also run bench.large_size (5M messages).")
@click.option("--shared-corpus", type=click.Path(file_okay=False), default="../shared/corpus",
              show_default=True, help="Where the PST and MSG files copied into the corpus are.")
@click.option("--render-only", is_flag=True,
              help="Only rewrite docs/benchmarks.md and its plot from the saved results.")
@click.option("--reuse-trawl", is_flag=True,
              help="Take each size's saved Trawl run and measure only the baselines again.")
@pass_config
def bench(config: Config, sizes: tuple[int, ...], large: bool, shared_corpus: str,
          render_only: bool, reuse_trawl: bool) -> None:
    """Benchmark Trawl against the naive, readpst and ceiling baselines (see docs/benchmarks.md).

    Needs the services up (`trawl services up`). Generated corpora and results go under
    bench.directory; the tables and plot are written into docs/benchmarks.md.
    """
    from pathlib import Path

    from pipeline.bench import render, runner

    if not render_only:
        chosen = list(sizes) or list(config.bench.sizes)
        if large:
            chosen.append(config.bench.large_size)
        shared = Path(shared_corpus)
        runner.run_benchmark(config, chosen, progress_to_stderr,
                             shared if shared.is_dir() else None, reuse_trawl)
    written = render.write_report(config)
    click.echo(f"results: {written}")


@main.command("cases")
@pass_config
def cases(config: Config) -> None:
    """List the cases that have an index."""
    from pipeline.index.client import connect
    from pipeline.index.indices import list_cases

    for name in list_cases(connect(config.elasticsearch), config.elasticsearch):
        click.echo(name)


if __name__ == "__main__":
    main()
