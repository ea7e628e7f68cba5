"""`labkit class` (issue 16): seats, the class list checked in full, and on the lab side one
seed lab per seat brought up, watched and torn down with nothing left.
"""
from __future__ import annotations

import pytest

from labkit import classroom
from labkit.broker.identity import prefix
from labkit.diag import DiagnosticError, LabkitError

from labtest import labkit_cli, leftovers


def test_practice_seats_are_numbered_to_the_width_of_the_class():
    assert [s.student for s in classroom.practice_seats(3)] == ["s1", "s2", "s3"]
    seats = classroom.practice_seats(12)
    assert (seats[0].prefix, seats[-1].prefix) == ("s01-", "s12-")
    for bad in (0, -1, classroom.MAX_SEATS + 1):
        with pytest.raises(LabkitError, match="--students must be 1 to"):
            classroom.practice_seats(bad)


def test_a_class_list_is_checked_in_full_and_names_each_bad_line(tmp_path):
    f = tmp_path / "class.txt"
    f.write_text("# period 2\nroot\n\nnobody  # the guest\nno-such-user-x\nnobody\n")
    with pytest.raises(DiagnosticError) as err:
        classroom.roster_from(f)
    assert str(err.value).splitlines() == [
        f"{f}:2: 'root' is root, not a student (fix: list the students' own accounts)",
        f"{f}:5: 'no-such-user-x' is not a user on this machine (fix: create the user first (useradd), or take the line out)",
        f"{f}:6: 'nobody' is listed twice (first on line 4) (fix: keep one line per student)"]
    f.write_text("nobody\n")
    assert classroom.roster_from(f) == [classroom.Seat("nobody", prefix(65534))]
    f.write_text("# nobody yet\n")
    with pytest.raises(LabkitError, match="names no student"):
        classroom.roster_from(f)


@pytest.mark.lab
def test_a_class_of_three_comes_up_is_watched_and_goes_down_leaving_nothing():
    p = labkit_cli("class", "up", "--students", "3", timeout=600)
    assert p.returncode == 0, p.stderr
    assert [line.split(":")[0] for line in p.stderr.splitlines() if line.startswith("[")] == ["[1/3] s1", "[2/3] s2", "[3/3] s3"]
    try:
        st = labkit_cli("class", "status")
        assert st.returncode == 0, st.stdout + st.stderr
        assert [line.split()[:3] for line in st.stdout.splitlines()] == [
            ["STUDENT", "LAB", "STATUS"], ["s1", "s1-seed", "up"], ["s2", "s2-seed", "up"], ["s3", "s3-seed", "up"]]
        again = labkit_cli("class", "up", "--students", "2", check=False)
        assert again.returncode == 2 and "a class of 3 seats is up" in again.stderr, again.stderr
    finally:
        down = labkit_cli("class", "down", timeout=600)
    assert down.returncode == 0, down.stderr
    assert all(leftovers(f"s{i}-seed") == [] for i in (1, 2, 3))
    assert labkit_cli("class", "status").stdout.strip() == "no class is up"


@pytest.mark.lab
def test_a_students_own_lab_is_left_alone_by_the_class():
    """s1 brought up a seed lab of their own before the class: class up leaves it, status
    says so, and class down does not take it down."""
    assert labkit_cli("up", "--lab", "s1-seed", timeout=300).returncode == 0
    try:
        p = labkit_cli("class", "up", "--students", "2", timeout=600)
        assert p.returncode == 0, p.stderr
        assert "[1/2] s1: has a lab 'seed' of their own; left as it is" in p.stderr, p.stderr
        assert "class up: 1 of 2 labs up" in p.stderr, p.stderr
        st = labkit_cli("class", "status")
        assert [line.split()[:3] for line in st.stdout.splitlines()[1:]] == [
            ["s1", "s1-seed", "their"], ["s2", "s2-seed", "up"]], st.stdout
        down = labkit_cli("class", "down", timeout=600)
        assert down.returncode == 0 and "s1: their own lab, left as it is" in down.stderr, down.stderr
        assert leftovers("s2-seed") == [] and labkit_cli("status", "--lab", "s1-seed").returncode == 0
    finally:
        labkit_cli("class", "down", timeout=600, check=False)
        labkit_cli("down", "--lab", "s1-seed", timeout=300, check=False)
    assert leftovers("s1-seed") == []
