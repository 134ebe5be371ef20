"""Make this checkout importable as ``ansible_collections.biostar.hardening``.

The plugins import each other by their collection path, as ansible does. A symlink in
a temporary folder (never inside the checkout, so no tool walks a loop) provides it.
"""

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_root() -> str:
    tag = hashlib.sha256(REPO.encode()).hexdigest()[:12]
    root = os.path.join(tempfile.gettempdir(), "biostar-hardening-%s" % tag)
    link = os.path.join(root, "ansible_collections", "biostar", "hardening")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.symlink(REPO, link)
    return root


def _install_collection_finder(root: str) -> None:
    # Ansible's own loader, as ansible-test units use it: plugins then load by FQCN.
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[root])._install()


ROOT = _collections_root()
sys.path.insert(0, ROOT)
_install_collection_finder(ROOT)


@pytest.fixture(scope="session")
def collections_path() -> str:
    """The ANSIBLE_COLLECTIONS_PATH under which this checkout is biostar.hardening."""
    return ROOT


@pytest.fixture(scope="session")
def ansible_playbook(collections_path):
    """Run ansible-playbook from the venv in folder ``tmp``, with this checkout as the collection.

    Ansible's temp folders stay under ``tmp``; ``env`` adds or overrides settings (callbacks,
    result format). Returns the CompletedProcess; a failed play does not raise.
    """
    program = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

    def run(tmp, args, env=None):
        settings = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=collections_path,
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=os.path.join(str(tmp), "local-tmp"),
            ANSIBLE_REMOTE_TEMP=os.path.join(str(tmp), "remote-tmp"),
            ANSIBLE_RETRY_FILES_ENABLED="0",
        )
        settings.update(env or {})
        return subprocess.run(
            [program, *args], cwd=str(tmp), capture_output=True, text=True, env=settings, timeout=300, check=False
        )

    return run
