"""The built collection installs, and from the installed copy the lookup and its docs work."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, "%s\n%s\n%s" % (" ".join(args), result.stdout, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    target = tmp_path_factory.mktemp("collections")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(build), REPO])
    (tarball,) = build.glob("biostar-hardening-*.tar.gz")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", str(target), str(tarball)])
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(target),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="json",
    )
    env.pop("ANSIBLE_CONFIG", None)
    return {"path": target / "ansible_collections" / "biostar" / "hardening", "env": env, "cwd": str(build)}


def test_the_tarball_ships_the_plugins_and_not_the_dev_tooling(installed):
    path = installed["path"]
    assert (path / "plugins" / "lookup" / "port_matrix.py").is_file()
    assert (path / "plugins" / "module_utils" / "port_matrix.py").is_file()
    for dev_only in (".venv", "scripts", "Makefile", "requirements-dev.txt", ".ci"):
        assert not (path / dev_only).exists(), dev_only


def test_installed_lookup_returns_the_matrix(installed):
    out = run(
        [
            os.path.join(BIN, "ansible"),
            "localhost",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ lookup('biostar.hardening.port_matrix', mode='server', host_role='server') }}",
        ],
        env=installed["env"],
        cwd=installed["cwd"],
    )
    result = json.loads(out)
    rules = result["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    assert [(r["protocol"], r["port"]) for r in rules] == [("tcp", 1470), ("tcp", 1471), ("tcp", 1480), ("udp", 51110)]
    assert (
        str(installed["path"])
        in subprocess.run(
            [os.path.join(BIN, "ansible-doc"), "-t", "lookup", "biostar.hardening.port_matrix"],
            capture_output=True,
            text=True,
            env=installed["env"],
            check=True,
        ).stdout
    )


def test_installed_ansible_doc_documents_the_lookup(installed):
    out = run(
        [os.path.join(BIN, "ansible-doc"), "-t", "lookup", "--json", "biostar.hardening.port_matrix"],
        env=installed["env"],
    )
    doc = json.loads(out)["biostar.hardening.port_matrix"]["doc"]
    assert doc["options"]["mode"]["choices"] == ["server", "direct"]
    assert doc["options"]["host_role"]["required"] is True
    expected = {"mode", "host_role", "version", "peers", "port_overrides", "extra_rules", "direction"}
    assert set(doc["options"]) >= expected
