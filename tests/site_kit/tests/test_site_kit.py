# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_kit without containers: seeds, the collection link, and recorded runs read back.

pytest tests/site_kit/tests
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.append(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from site_kit import REPO, collection, firewall, playbook

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: One call
      ansible.builtin.debug:
        msg: one
    - name: A loop of three, one skipped
      ansible.builtin.debug:
        msg: "{{ item }}"
      loop: [1, 2, 3]
      when: item != 2
    - name: Skipped
      ansible.builtin.debug:
        msg: never
      when: false
    - name: Fails
      ansible.builtin.fail:
        msg: refused on purpose
"""


@pytest.mark.parametrize(
    "backend, options, message",
    [
        ("pf", {}, "backend: invalid value 'pf'; valid values: nftables, iptables, ufw, firewalld"),
        ("ufw", {"output_drop": True}, "output_drop: true is supported for nftables and iptables, not 'ufw'"),
        ("nftables", {"offline": True}, "offline: true is supported for firewalld only, not 'nftables'"),
    ],
)
def test_seed_refuses_what_it_cannot_do(backend, options, message):
    with pytest.raises(ValueError) as error:
        firewall.seed_script(backend, **options)
    assert str(error.value) == message


def test_nftables_seed_is_default_deny_and_persisted():
    plain = firewall.seed_script("nftables")
    assert "policy drop;" in plain and "user-rule" not in plain and "oif" not in plain
    assert "nft -f /etc/nftables.conf" in plain
    full = firewall.seed_script("nftables", foreign_rule=True, output_drop=True)
    assert 'tcp dport 2222 accept comment "user-rule"' in full
    assert "type filter hook output priority filter; policy drop;" in full


def test_iptables_seed_saves_what_it_set():
    script = firewall.seed_script("iptables", foreign_rule=True)
    assert script.index("-P INPUT DROP") < script.index("iptables-save >/etc/iptables/rules.v4")
    assert "--dport 2222 -m comment --comment user-rule -j ACCEPT" in script
    assert "OUTPUT" not in script


def test_link_points_at_this_checkout(tmp_path):
    root = collection.link(str(tmp_path))
    link = os.path.join(root, "ansible_collections", "biostar", "hardening")
    assert os.readlink(link) == REPO
    assert collection.link(str(tmp_path)) == root  # a second call keeps the link


def test_a_recorded_run_reads_back(tmp_path):
    book = tmp_path / "play.yml"
    book.write_text(PLAY)
    env = collection.ansible_env(ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    run = playbook.run(str(book), "localhost,", extra_vars={"ansible_connection": "local"}, env=env, timeout=120)
    assert run.rc == 2, run.describe()
    assert run.stats("localhost")["failures"] == 1
    debug = run.module_results("localhost", "debug")
    assert [r.get("msg") for r in debug if not r.get("skipped")] == ["one", 1, 3]
    assert run.module_results("localhost", "ansible.builtin.debug") == debug
    assert run.failure_messages("localhost") == ["refused on purpose"]
    # Loop items count one each, skipped ones and loop summaries not at all.
    assert run.counts() == {"localhost": {"ansible.builtin.debug": 3, "ansible.builtin.fail": 1}}
