"""The built collection installs, and from the installed copy the lookup and its docs work."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

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
    return {
        "path": target / "ansible_collections" / "biostar" / "hardening",
        "env": env,
        "cwd": str(build),
        "tarball": tarball,
    }


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
    # The installed copy documents what the checkout's DOCUMENTATION says.
    source = os.path.join(REPO, "plugins", "lookup", "port_matrix.py")
    with open(source) as handle:
        documented = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', handle.read(), re.S).group(1))
    for option in ("mode", "host_role", "version"):
        assert doc["options"][option]["choices"] == documented["options"][option]["choices"], option
    assert {"server", "direct"} <= set(doc["options"]["mode"]["choices"])
    assert doc["options"]["host_role"]["required"] is True
    expected = {"mode", "host_role", "version", "peers", "port_overrides", "extra_rules", "direction"}
    assert set(doc["options"]) >= expected


def _collections_used(path):
    """Every collection namespace.name that a shipped YAML file calls a module from."""
    used = set()
    pattern = re.compile(r"^\s*-?\s*([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:\s*(#.*)?$")
    for yml in path.rglob("*.yml"):
        for line in yml.read_text().splitlines():
            match = pattern.match(line)
            if match:
                used.add((str(yml.relative_to(path)), match.group(1)))
    return used


def test_the_tarball_declares_every_collection_its_content_uses(installed):
    path = installed["path"]
    manifest = json.loads((path / "MANIFEST.json").read_text())["collection_info"]
    declared = {"ansible.builtin", "biostar.hardening"} | set(manifest["dependencies"])
    used = _collections_used(path)
    assert any(name == "biostar.hardening" for _path, name in used), "the scan finds the role's module calls"
    undeclared = sorted((f, name) for f, name in used if name not in declared)
    assert undeclared == [], "shipped content uses collections galaxy.yml does not declare"
    # The molecule scenarios (containers.podman, ansible.windows) are development tooling.
    assert not (path / "extensions").exists()
    runtime = yaml.safe_load((path / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.16.0"
    assert (path / "roles" / "firewall" / "README.md").is_file()
    assert manifest["license"] == ["GPL-3.0-or-later"]


def test_the_scan_sees_undeclared_collections(tmp_path):
    """The check above can fail: a playbook calling containers.podman is reported."""
    (tmp_path / "play.yml").write_text(
        "- hosts: all\n  tasks:\n    - name: x\n      containers.podman.podman_container:\n        name: a\n"
    )
    assert _collections_used(tmp_path) == {("play.yml", "containers.podman")}


def test_the_requirements_file_form_in_the_readme_installs_the_tarball(installed, tmp_path):
    """README's install section: a requirements file naming the tarball, type file."""
    tarball = installed["tarball"]
    (tmp_path / tarball.name).write_bytes(tarball.read_bytes())
    (tmp_path / "requirements.yml").write_text(
        yaml.safe_dump({"collections": [{"name": "./" + tarball.name, "type": "file"}]})
    )
    target = tmp_path / "collections"
    galaxy = os.path.join(BIN, "ansible-galaxy")
    run([galaxy, "collection", "install", "--offline", "-r", "requirements.yml", "-p", str(target)], cwd=str(tmp_path))
    manifest = json.loads((target / "ansible_collections" / "biostar" / "hardening" / "MANIFEST.json").read_text())
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    assert manifest["collection_info"]["version"] == version
    with open(os.path.join(REPO, "README.md")) as handle:
        readme = handle.read()
    assert "ansible-galaxy collection install biostar-hardening-%s.tar.gz" % version in readme
    assert "ansible-galaxy collection install -r collections/requirements.yml" in readme
