"""`manage.py create_user NAME --role …` creates a user with exactly that role."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from auditcore import roles
from auditcore.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text("a long enough passphrase\n")
    return path


@pytest.mark.parametrize("role", roles.ROLES)
def test_it_creates_a_user_with_the_role(role, password_file, capsys):
    call_command("create_user", "dana", role=role, password_file=password_file)
    user = get_user_model().objects.get(username="dana")
    assert roles.user_roles(user) == {role}
    assert user.check_password("a long enough passphrase")
    assert user.is_staff == (role == roles.ADMIN)
    assert "created dana" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="user.create", object_id=str(user.pk)).exists()


def test_it_reads_the_password_from_a_prompt(monkeypatch):
    answers = iter(["another long passphrase", "another long passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    call_command("create_user", "erin", role="reviewer")
    assert get_user_model().objects.get(username="erin").check_password("another long passphrase")


def test_it_refuses_two_different_passwords_at_the_prompt(monkeypatch):
    answers = iter(["another long passphrase", "a different passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="the two passwords differ"):
        call_command("create_user", "erin", role="reviewer")
    assert not get_user_model().objects.filter(username="erin").exists()


def test_it_refuses_an_unknown_role(password_file):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_user", "dana", role="wizard", password_file=password_file)


def test_it_refuses_a_weak_password(tmp_path):
    weak = tmp_path / "weak"
    weak.write_text("abc\n")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_user", "dana", role="reviewer", password_file=weak)
    assert not get_user_model().objects.filter(username="dana").exists()


def test_it_refuses_a_username_that_exists(password_file):
    call_command("create_user", "dana", role="reviewer", password_file=password_file)
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "dana", role="admin", password_file=password_file)
    assert roles.user_roles(get_user_model().objects.get(username="dana")) == {"reviewer"}
