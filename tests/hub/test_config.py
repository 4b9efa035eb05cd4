"""The hub's settings and the JupyterHub configuration derived from them (no services needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from course.hub import config as hubconfig
from course.hub.provision import hub_block, student_nbgrader_config, write_hub_block
from course.hub.settings import SettingsError, load, parse
from tests.conftest import ROOT

EXAMPLE = ROOT / "deploy" / "onemachine" / "hub.example.toml"


def _settings(**course):
    return parse({"course": {"id": "bizcases", "kit": str(ROOT), "instructors": ["ada"],
                             "students": ["alice", "bob"], **course},
                  "limits": {"memory": "1.5G", "cpu": 0.5}})


def test_the_example_settings_load():
    s = load(EXAMPLE)
    assert s.course_id == "bizcases" and s.db_url.startswith("postgresql+psycopg://grader-bizcases@")


def test_configure_sets_groups_roles_service_and_limits():
    s = _settings()
    c = Config()
    hubconfig.configure(c, s)
    assert c.JupyterHub.load_groups == {
        "formgrade-bizcases": {"users": ["ada", "grader-bizcases"]},
        "nbgrader-bizcases": {"users": ["alice", "bob"]},
    }
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["formgrade-bizcases"]["scopes"][0] == "access:services!service=bizcases"
    assert "read:users:groups!user" in roles["server"]["scopes"]
    assert "admin:users" not in str(roles)  # nobody gets hub-wide admin from the course
    (service,) = c.JupyterHub.services
    assert service["user"] == "grader-bizcases" and service["cwd"] == str(s.course_root)
    assert service["environment"]["JUPYTER_CONFIG_PATH"] == str(s.service_config_dir)
    assert c.Authenticator.allowed_users == {"ada", "alice", "bob"}
    assert c.Spawner.mem_limit == int(1.5 * 1024**3) and c.Spawner.cpu_limit == 0.5
    assert c.Spawner.environment["JUPYTER_CONFIG_PATH"] == str(s.user_config_dir)
    assert c.Spawner.environment["PATH"].split(":")[0] == str(s.env_bin)


def test_the_deploy_config_file_uses_the_settings(tmp_path, monkeypatch):
    settings = tmp_path / "hub.toml"
    settings.write_text(EXAMPLE.read_text().replace('id = "bizcases"', 'id = "mkt101"')
                        .replace("grader-bizcases", "grader-mkt101"))
    monkeypatch.setenv("BIZCASES_HUB_SETTINGS", str(settings))
    c = Config()
    code = (ROOT / "deploy" / "onemachine" / "jupyterhub_config.py").read_text()
    exec(compile(code, "jupyterhub_config.py", "exec"), {"get_config": lambda: c})
    assert c.JupyterHub.services[0]["name"] == "mkt101"
    assert set(c.JupyterHub.load_groups) == {"formgrade-mkt101", "nbgrader-mkt101"}


@pytest.mark.parametrize("course, message", [
    ({"id": "biz-cases"}, "course.id"),  # nbgrader splits group names on the first '-'
    ({"students": ["Alice Smith"]}, "not a valid account name"),
    ({"students": ["ada"]}, "both instructor and student"),
    ({"grader": "alice"}, "must not be a person"),
    ({"late_penalty": "half"}, "late_penalty"),
])
def test_bad_settings_say_what_is_wrong(course, message):
    with pytest.raises(SettingsError, match=message):
        _settings(**course)


def test_bad_settings_file(tmp_path):
    with pytest.raises(SettingsError, match="no hub settings"):
        load(tmp_path / "missing.toml")
    broken = tmp_path / "hub.toml"
    broken.write_text("[course\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(broken)


def test_the_grader_config_block_is_replaced_not_repeated(tmp_path):
    s = _settings()
    config = tmp_path / "nbgrader_config.py"
    config.write_text("c = get_config()\nc.CourseDirectory.db_url = 'sqlite:///gradebook.db'\n")
    write_hub_block(config, s)
    write_hub_block(config, s)
    text = config.read_text()
    assert text.count(hub_block(s).splitlines()[0]) == 1
    # later lines win in a traitlets config file: the hub's gradebook replaces the laptop's
    assert text.index("sqlite:///gradebook.db") < text.index(f"db_url = {s.gradebook_url!r}")


def test_students_submit_privately():
    assert "course.hub.exchange.PrivateSubmit" in student_nbgrader_config(_settings())


def test_private_submission_modes(tmp_path: Path):
    from course.hub.exchange import make_private

    sub = tmp_path / "alice+case01+stamp"
    (sub / "data").mkdir(parents=True)
    (sub / "case01.ipynb").write_text("{}")
    (sub / "data" / "x.csv").write_text("1")
    sub.chmod(0o777)
    make_private(str(sub))
    assert {oct(p.stat().st_mode & 0o7777) for p in sub.rglob("*") if p.is_file()} == {"0o640"}
    assert {oct(p.stat().st_mode & 0o7777) for p in [sub, sub / "data"]} == {"0o750"}
