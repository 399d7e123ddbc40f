"""`minicnn make-exercises` never silently replaces a student's work.

An exercise file that differs from its generated stub is refused without
``--force``; with ``--force`` it is replaced and its previous text is kept in
a backup file beside it. ``--check`` writes nothing.
"""
import pytest

from minicnn.course import make_exercises

SOURCE = '''def f(x):
    """Docstring."""
    # BEGIN SOLUTION 2.1
    return x + 1
    # END SOLUTION
'''
NAME = "ch02_autograd.py"
SOLVED = "# my solution\ndef f(x):\n    return x + 1\n"


@pytest.fixture
def dirs(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (solutions / NAME).write_text(SOURCE)
    return solutions, exercises


def run(dirs, *flags):
    solutions, exercises = dirs
    return make_exercises.main(["--solutions-dir", str(solutions), "--exercises-dir", str(exercises), *flags])


def stub(dirs):
    return make_exercises.generate(dirs[0])[NAME]


def backups(exercises):
    return sorted(p.name for p in exercises.iterdir() if p.name.endswith(".bak"))


def test_missing_stub_is_written_and_an_up_to_date_one_is_left_alone(dirs, capsys):
    assert run(dirs) == 0
    path = dirs[1] / NAME
    assert path.read_text() == stub(dirs)
    assert "NotImplementedError" in path.read_text()
    assert run(dirs) == 0
    assert "wrote 0 file(s)" in capsys.readouterr().out
    assert backups(dirs[1]) == []


def test_edited_exercise_is_refused_without_force(dirs, capsys):
    run(dirs)
    path = dirs[1] / NAME
    path.write_text(SOLVED)
    capsys.readouterr()
    assert run(dirs) == 1, "an edited exercise file must make the command fail"
    captured = capsys.readouterr()
    assert path.read_text() == SOLVED, "the student's file was overwritten"
    assert f"exercises/{NAME}" in captured.out and "NOT overwritten" in captured.out
    assert "--force" in captured.err
    assert backups(dirs[1]) == []


def test_force_replaces_and_keeps_a_backup(dirs, capsys):
    run(dirs)
    path = dirs[1] / NAME
    path.write_text(SOLVED)
    assert run(dirs, "--force") == 0
    assert path.read_text() == stub(dirs)
    assert backups(dirs[1]) == [NAME + ".bak"]
    assert (dirs[1] / (NAME + ".bak")).read_text() == SOLVED
    assert f"{NAME}.bak" in capsys.readouterr().out


def test_a_second_force_keeps_both_backups(dirs):
    run(dirs)
    path = dirs[1] / NAME
    path.write_text(SOLVED)
    run(dirs, "--force")
    path.write_text(SOLVED + "# second attempt\n")
    assert run(dirs, "--force") == 0
    kept = backups(dirs[1])
    assert len(kept) == 2, kept
    texts = sorted((dirs[1] / name).read_text() for name in kept)
    assert texts == sorted([SOLVED, SOLVED + "# second attempt\n"])


def test_stale_stub_after_a_solution_change_is_also_refused(dirs):
    """make-exercises cannot tell a stale stub from a student's edit: both need --force."""
    run(dirs)
    (dirs[0] / NAME).write_text(SOURCE.replace("Docstring.", "A better docstring."))
    assert run(dirs) == 1
    assert run(dirs, "--force") == 0
    assert "A better docstring." in (dirs[1] / NAME).read_text()


def test_check_writes_nothing_and_cannot_be_combined_with_force(dirs):
    run(dirs)
    path = dirs[1] / NAME
    path.write_text(SOLVED)
    assert run(dirs, "--check") == 1
    assert path.read_text() == SOLVED and backups(dirs[1]) == []
    with pytest.raises(SystemExit):
        run(dirs, "--check", "--force")


def test_the_command_line_passes_force_through(dirs, capsys):
    from minicnn import cli

    run(dirs)
    (dirs[1] / NAME).write_text(SOLVED)
    args = ["make-exercises", "--solutions-dir", str(dirs[0]), "--exercises-dir", str(dirs[1])]
    assert cli.main(args) == 1
    assert cli.main(args + ["--force"]) == 0
    assert backups(dirs[1]) == [NAME + ".bak"]
