# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""This checkout as ``biostar.hardening``, and the environment ansible-playbook runs in."""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

from . import KIT, REPO

RECORD_CALLBACK = "site_kit_record"
RECORD_ENV = "SITE_KIT_RECORD"
# "1": keep the results of failed and unreachable tasks only (what a benchmark needs:
# recording every large result would cost the run more than a user's own callback does).
RECORD_LEAN_ENV = "SITE_KIT_RECORD_LEAN"


def link(root: str) -> str:
    """Make ``biostar.hardening`` resolve to this checkout under ``root``; return ``root``.

    The link lives outside the repository (a temp or molecule's ephemeral dir), so no
    tool walks into a loop. containers.podman, ansible.posix and community.general come
    from the venv's ``ansible`` package, which ansible-core finds on its Python path.
    """
    target = os.path.join(root, "ansible_collections", "biostar", "hardening")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(target) and os.readlink(target) != REPO:
        os.unlink(target)
    if not os.path.islink(target):
        os.symlink(REPO, target)
    if not os.path.isfile(os.path.join(target, "galaxy.yml")):
        raise RuntimeError("%s does not lead to the collection (no galaxy.yml)" % target)
    return root


def _joined(env: Mapping[str, str], key: str, value: str, sep: str) -> str:
    return sep.join(v for v in (env.get(key, ""), value) if v)


def ansible_env(
    collections: Optional[str] = None,
    callback_dir: str = os.path.join(KIT, "callback"),
    callback: str = RECORD_CALLBACK,
    base: Optional[Mapping[str, str]] = None,
    **settings: str,
) -> Dict[str, str]:
    """The environment for ansible-playbook runs, with the recording callback enabled.

    ``collections``: a collections path made by :func:`link` (default: the caller's own).
    ``callback``: the recording callback (site_kit_record, or a subclass of it in
    ``callback_dir``); playbook.run names the file it writes ($SITE_KIT_RECORD).
    ``settings``: further variables, by their full names (ANSIBLE_FORKS="10").
    """
    env = dict(os.environ if base is None else base)
    if collections:
        env["ANSIBLE_COLLECTIONS_PATH"] = collections
    env["ANSIBLE_CALLBACK_PLUGINS"] = _joined(env, "ANSIBLE_CALLBACK_PLUGINS", callback_dir, os.pathsep)
    env["ANSIBLE_CALLBACKS_ENABLED"] = _joined(env, "ANSIBLE_CALLBACKS_ENABLED", callback, ",")
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0")
    env.update(settings)
    return env
