import click
from click.testing import CliRunner

from pipeline.cli import main


def all_commands(group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


def test_every_command_has_help_text():
    missing = [" ".join(path) for path, command in all_commands(main) if not command.help]
    assert missing == []


def test_invalid_manifest_is_a_clear_message_not_a_traceback(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("case: x\nsources:\n  - custodian: A\n    paths: [nowhere]\n")
    result = CliRunner().invoke(main, ["run", str(manifest)])
    assert result.exit_code == 1
    assert "path does not exist" in result.output
    assert "Traceback" not in result.output


def test_search_rejects_a_malformed_date_before_contacting_anything():
    result = CliRunner().invoke(main, ["search", "demo", "money", "--from", "2002-13-45"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output or "2002-13-45" in result.output
