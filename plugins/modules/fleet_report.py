#!/usr/bin/python
# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name, on the controller; this file
# carries its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Write the BioStar fleet posture report (HTML, JSON, JUnit XML)
version_added: 0.1.0
description:
  - Writes three files into O(dest), on the controller.
  - C(report.html) is one self-contained page (inline styles and script, no external assets, no
    network access; it opens from disk). It has one row per host with host role, BioStar version,
    mode, platform, backend, whether the firewall filters, the ports opened (purpose and provenance
    on hover), what the last run changed and what each probe host expected and saw. Exposures
    come first; a per-port view covers the fleet. The host table can be filtered, sorted and grouped.
  - C(report.json) holds the same facts (schema C(biostar.hardening/fleet-report/1), documented in
    the collection's C(docs/report.md) and C(docs/report.schema.json)).
  - C(report.junit.xml) has one test case per host and one per probe check. A check that did not
    meet its expectation is a failing test case; so is an exposed or drifted host.
  - The data is what this run registered on each host (C(biostar_firewall_result),
    C(biostar_firewall_context), C(biostar_firewall_rules) from the role C(biostar.hardening.firewall),
    C(biostar_verify_results) from the playbook C(biostar.hardening.verify)), or, with O(records), the
    run records that the callback C(biostar.hardening.fleet_report) wrote.
  - An exposure is a host whose firewall does not filter, or a port expected closed that a peer
    reached. A failure is a BioStar port expected open that a peer could not reach, a firewall task
    that failed or an unreachable host. Drift is a check-mode run that would change the firewall.
options:
  dest:
    description: The folder to write the report into; created when missing.
    type: path
    required: true
  records:
    description:
      - A folder of run records (the C(records/) folder of the callback C(biostar.hardening.fleet_report)).
        When set, the report is made from those records instead of this run's variables.
    type: path
  runs:
    description: With O(records), the names of the runs to use, oldest first. Default is every record.
    type: list
    elements: str
  hosts:
    description: The hosts whose registered variables make the report. Default is every inventory host.
    type: list
    elements: str
  title:
    description: The page's title.
    type: str
    default: BioStar fleet posture
  save_record:
    description: Without O(records), also save this run's data as a record in O(dest)C(/records/).
    type: bool
    default: true
  fail_on:
    description: Fail the task (after writing the files) when the report has any of these.
    type: list
    elements: str
    choices: [exposure, failure, drift]
    default: []
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
  - biostar.hardening.attributes
  - biostar.hardening.attributes.controller
attributes:
  check_mode:
    support: full
    details: The files are written in check mode too; they are the run's output, and show the drift.
seealso:
  - module: biostar.hardening.port_probe
  - module: biostar.hardening.firewall_ports
author:
  - biostar.hardening contributors (@biostar-hardening)
"""

EXAMPLES = r"""
- name: Write the report from this run's results (after the site and verify plays)
  biostar.hardening.fleet_report:
    dest: "{{ playbook_dir }}/biostar-report"
    fail_on: [exposure, failure]
  run_once: true
  delegate_to: localhost

- name: Write the report of three recorded runs only
  biostar.hardening.fleet_report:
    dest: /srv/reports/biostar/before-switch
    records: /srv/reports/biostar/records
    runs: [server-site, server-verify, direct-check]
"""

RETURN = r"""
html:
  description: The page's path.
  returned: success
  type: str
  sample: /srv/reports/biostar/report.html
json:
  description: The JSON report's path.
  returned: success
  type: str
  sample: /srv/reports/biostar/report.json
junit:
  description: The JUnit XML file's path.
  returned: success
  type: str
  sample: /srv/reports/biostar/report.junit.xml
record:
  description: The run record written, without O(records) and with O(save_record).
  returned: when a record was written
  type: str
  sample: /srv/reports/biostar/records/20261201T101500Z-report.json
summary:
  description: The report's C(summary) object (see C(docs/report.md)).
  returned: success
  type: dict
  sample:
    hosts: 2
    by_status: {exposed: 0, failed: 0, drift: 0, ok: 2, unknown: 0}
    exposures: 0
    failures: 0
    drift: 0
    probe_checks: {total: 14, passed: 14, failed: 0}
    check_mode: false
seconds:
  description: How long building and writing the report took.
  returned: success
  type: float
  sample: 0.04
"""
