# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The program the firewalld backend runs on the host, once per step, in firewalld's own Python.

The backend sends this file's source on stdin to ``python3 -I -``, followed by one line
``main('<request as JSON>')``; the program prints one JSON answer. So a whole read, or a
whole change of runtime and permanent configuration, costs one process start instead of
one ``firewall-cmd`` per change.

- With the daemon running it talks to firewalld over D-Bus (``dbus``, the binding that
  firewalld's own ``firewall.client`` wraps): whole zone or policy settings in one call
  per configuration, so the permanent file is written once and the runtime is checked
  as a whole before it changes.
- With the daemon stopped it edits the permanent configuration through
  ``firewall.core.fw.Firewall(offline=True)``, the code ``firewall-offline-cmd`` runs.

Requests: ``{"action": "state"}``, ``{"action": "read", ...}``, ``{"action": "write",
"steps": [...]}`` (see ``write``). A failure prints ``{"error": ..., "step": ...}`` and
exits 1. It imports nothing from the collection: it runs outside Ansible.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys

BUS_NAME = "org.fedoraproject.FirewallD1"
BUS_PATH = "/org/fedoraproject/FirewallD1"
# Settings firewalld refuses to change at runtime.
NOT_RUNTIME = ("version", "short", "description", "target")
SERVICE_REF = re.compile(r'service name="([^"]+)"')
# D-Bus errors that mean the daemon left the bus in the middle of a run.
GONE = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
)
FORGOTTEN = (
    "; firewalld was reloaded from its files to forget the change it could not write"
    " (runtime-only changes of other tools were dropped)"
)
# Where firewalld writes a new definition (an owned name that did not exist before the step).
DEFINITIONS = {"service": "/etc/firewalld/services/%s.xml", "policy": "/etc/firewalld/policies/%s.xml"}
# Zone settings call rich rules "rules_str", policy settings "rich_rules".
RULES_KEY = {"zone": "rules_str", "policy": "rich_rules"}
# firewalld's permanent configuration: the vendor's defaults, then the local files that replace
# them by name. The last one must exist for the files to be read instead of asking the daemon.
CONFIG_DIRS = ("/usr/lib/firewalld", "/etc/firewalld")
FOLDERS = {"zone": "zones", "policy": "policies"}


class Online:
    """firewalld's D-Bus API: runtime and permanent configuration of the running daemon."""

    running = True

    def __init__(self, dbus, bus):
        self.dbus = dbus
        self.bus = bus
        self.main = self.iface(BUS_PATH, "")
        self.config = self.iface(BUS_PATH + "/config", ".config")

    def iface(self, path, suffix):
        return self.dbus.Interface(self.bus.get_object(BUS_NAME, path, introspect=False), BUS_NAME + suffix)

    def default_zone(self):
        return str(self.main.getDefaultZone())

    def _permanent(self, kind, name):
        getter = self.config.getZoneByName if kind == "zone" else self.config.getPolicyByName
        return self.iface(getter(name), ".config." + kind)

    def names(self, layer, kind):
        if kind == "service":
            return self.main.listServices() if layer == "runtime" else self.config.getServiceNames()
        if layer == "runtime":
            runtime = self.iface(BUS_PATH, "." + kind)
            return runtime.getPolicies() if kind == "policy" else runtime.getZones()
        return self.config.getZoneNames() if kind == "zone" else self.config.getPolicyNames()

    def get(self, layer, kind, name):
        if layer == "runtime":
            runtime = self.iface(BUS_PATH, "." + kind)
            return runtime.getZoneSettings2(name) if kind == "zone" else runtime.getPolicySettings(name)
        item = self._permanent(kind, name)
        return item.getSettings2() if kind == "zone" else item.getSettings()

    def put(self, layer, kind, name, settings):
        typed = self.dbus.Dictionary(settings, signature="sv")
        for key in ("services", RULES_KEY[kind]):
            typed[key] = self.dbus.Array(settings[key], signature="s")
        if layer == "runtime":
            for key in NOT_RUNTIME:
                typed.pop(key, None)
            runtime = self.iface(BUS_PATH, "." + kind)
            (runtime.setZoneSettings2 if kind == "zone" else runtime.setPolicySettings)(name, typed)
        else:
            item = self._permanent(kind, name)
            (item.update2 if kind == "zone" else item.update)(typed)

    def define(self, kind, name, settings):
        typed = self.dbus.Dictionary(settings, signature="sv")
        if kind == "service":
            ports = [self.dbus.Struct(port, signature="ss") for port in settings["ports"]]
            typed["ports"] = self.dbus.Array(ports, signature="(ss)")
            self.config.addService2(name, typed)
        else:
            for key in ("ingress_zones", "egress_zones"):
                typed[key] = self.dbus.Array(settings[key], signature="s")
            typed["priority"] = self.dbus.Int32(settings["priority"])
            self.config.addPolicy(name, typed)

    def delete(self, kind, name):
        path = self.config.getServiceByName(name) if kind == "service" else self.config.getPolicyByName(name)
        self.iface(path, ".config." + kind).remove()

    def reload(self):
        self.main.reload()

    def unlink(self, kind, name):
        """Delete a permanent service file behind the daemon's back, as its ``remove()`` would
        (renamed to ``.old``), for a reload that follows at once. Only safe once no zone or policy
        of the daemon refers to it: its file watcher would otherwise rewrite them."""
        from firewall import config

        path = "%s/%s.xml" % (config.ETC_FIREWALLD_SERVICES, name)
        os.rename(path, path + ".old")
        return path

    def loaded(self, layer, prefix, policy):
        """What a reload resets in one configuration, without the owned entries: zones, policies,
        ipsets, direct rules and the names of the services, as plain values keyed by item."""
        found = {}
        for kind in ("zone", "policy"):
            for name in self.names(layer, kind):
                settings = plain(self.get(layer, kind, name))
                for key in ("services", RULES_KEY[kind]):
                    settings[key] = [item for item in settings.get(key, []) if not owned_entry(prefix, item)]
                if name == policy:  # the owned policy comes and goes with the owned rules
                    settings = {key: settings[key] for key in ("services", RULES_KEY[kind]) if settings[key]}
                    if not settings:
                        continue
                found["%s %s" % (kind, name)] = settings
        runtime = layer == "runtime"
        ipsets = self.iface(BUS_PATH, ".ipset") if runtime else None
        for name in ipsets.getIPSets() if runtime else self.config.getIPSetNames():
            item = self.iface(self.config.getIPSetByName(name), ".config.ipset") if not runtime else None
            found["ipset " + name] = plain(ipsets.getIPSetSettings(name) if runtime else item.getSettings())
        direct = self.iface(BUS_PATH, ".direct") if runtime else self.iface(BUS_PATH + "/config", ".config.direct")
        found["direct"] = plain([direct.getAllChains(), direct.getAllRules(), direct.getAllPassthroughs()])
        services = self.main.listServices() if runtime else self.config.getServiceNames()
        found["services"] = sorted(str(name) for name in services if not str(name).startswith(prefix))
        return found

    def reload_drops(self, owner, policy):
        """The items, besides owned entries, where the runtime and the permanent configuration
        differ: what a reload would drop or load. Empty when a reload changes only owned entries."""
        runtime, permanent = (self.loaded(layer, owner + "-", policy) for layer in ("runtime", "permanent"))
        return sorted(key for key in set(runtime) | set(permanent) if runtime.get(key) != permanent.get(key))


class Offline:
    """The permanent configuration on disk, through the code firewall-offline-cmd runs."""

    running = False

    def __init__(self):
        from firewall.core.fw import Firewall

        self.fw = Firewall(offline=True)
        self.fw.start()
        self.config = self.fw.config

    def default_zone(self):
        return self.fw.get_default_zone()

    def names(self, layer, kind):
        return {"service": self.config.get_services, "zone": self.config.get_zones}.get(
            kind, self.config.get_policy_objects
        )()

    def get(self, layer, kind, name):
        if kind == "zone":
            return self.config.get_zone_config_dict(self.config.get_zone(name))
        return self.config.get_policy_object_config_dict(self.config.get_policy_object(name))

    def put(self, layer, kind, name, settings):
        if kind == "zone":
            self.config.set_zone_config_dict(self.config.get_zone(name), settings)
        else:
            self.config.set_policy_object_config_dict(self.config.get_policy_object(name), settings)

    def define(self, kind, name, settings):
        if kind == "service":
            settings = dict(settings, ports=[tuple(port) for port in settings["ports"]])
            self.config.new_service_dict(name, settings)
        else:
            self.config.new_policy_object_dict(name, settings)

    def delete(self, kind, name):
        if kind == "service":
            self.config.remove_service(self.config.get_service(name))
        else:
            self.config.remove_policy_object(self.config.get_policy_object(name))


def connect(offline_allowed=True):
    """The running daemon over D-Bus, else the offline configuration (when allowed), else None."""
    try:
        import dbus

        bus = dbus.SystemBus()
        if bus.name_has_owner(BUS_NAME):
            props = dbus.Interface(bus.get_object(BUS_NAME, BUS_PATH, introspect=False), dbus.PROPERTIES_IFACE)
            if str(props.Get(BUS_NAME, "state")) == "RUNNING":
                return Online(dbus, bus)
    except ImportError:
        raise
    except Exception:  # no system bus or no daemon: the offline path decides
        pass
    return Offline() if offline_allowed else None


def plain(value):
    """A D-Bus value as plain Python, lists sorted, so two configurations compare by content."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return sorted((plain(item) for item in value), key=repr)
    if isinstance(value, str):
        return str(value)
    return int(value) if isinstance(value, int) else value


def owned_entry(prefix, item):
    """An owned service name, or a rich rule that names an owned service."""
    return str(item).startswith(prefix) or any(n.startswith(prefix) for n in SERVICE_REF.findall(str(item)))


def entries(kind, settings):
    return {"services": sorted(settings.get("services", [])), "rules": sorted(settings.get(RULES_KEY[kind], []))}


def read(request):
    """Owned-relevant parts of both configurations, and what everything else refers to."""
    fw = connect(request["offline"])
    if fw is None:
        return {"running": False}
    zone = request.get("zone") or fw.default_zone()
    prefix = request["owner"] + "-"
    answer = {"running": fw.running, "zone": zone, "layers": {}, "referenced": set()}
    for layer in ("permanent", "runtime") if fw.running else ("permanent",):
        policies = fw.names(layer, "policy")
        policy = request.get("policy")
        answer["layers"][layer] = {
            "zone": entries("zone", fw.get(layer, "zone", zone)),
            "policy": entries("policy", fw.get(layer, "policy", policy)) if policy in policies else None,
            "defined": sorted(name for name in fw.names(layer, "service") if name.startswith(prefix)),
        }
    mine = {("zone", zone), ("policy", request.get("policy"))}
    referenced = references_on_disk(mine)
    answer["referenced"] = sorted(referenced if referenced is not None else references_of(fw, mine))
    return answer


def references_of(fw, skip):
    """The services that the permanent zones and policies other than ``skip`` name, as firewalld
    answers: two D-Bus calls per zone or policy (about 4 ms each)."""
    found = set()
    for kind in ("zone", "policy"):
        for name in fw.names("permanent", kind):
            if (kind, name) not in skip:
                settings = entries(kind, fw.get("permanent", kind, name))
                found.update(settings["services"])
                found.update(n for rule in settings["rules"] for n in SERVICE_REF.findall(rule))
    return found


def references_on_disk(skip):
    """``references_of`` read from firewalld's own files, which every permanent change is
    written to at once: a few milliseconds instead of some 40 D-Bus calls. None when the files
    are not where firewalld keeps them by default or one of them is not well-formed XML (firewalld
    skips such a file, so only the daemon knows what it loaded); the caller then asks the daemon.
    Every ``service`` element counts, a zone's own and those inside rich rules."""
    try:
        import pyexpat
    except ImportError:
        return None
    if not os.path.isdir(CONFIG_DIRS[-1]):
        return None
    files = {}
    for kind, folder in FOLDERS.items():
        for base in CONFIG_DIRS:
            with contextlib.suppress(OSError):
                for entry in os.listdir(os.path.join(base, folder)):
                    if entry.endswith(".xml") and (kind, entry[:-4]) not in skip:
                        files[(kind, entry[:-4])] = os.path.join(base, folder, entry)
    found = set()

    def start(tag, attributes):
        if tag == "service" and attributes.get("name"):
            found.add(attributes["name"])

    for path in files.values():
        parser = pyexpat.ParserCreate()
        parser.StartElementHandler = start
        try:
            with open(path, "rb") as stream:
                parser.ParseFile(stream)
        except (OSError, pyexpat.ExpatError):
            return None
    return found


def edit(fw, layer, kind, name, change):
    """Add and remove services and rich rules in one zone or policy, with one write."""
    settings = dict(fw.get(layer, kind, name))
    for key, add, remove in (("services", "add", "remove"), (RULES_KEY[kind], "add_rules", "remove_rules")):
        current = [str(item) for item in settings.get(key, [])]
        current = [item for item in current if item not in change.get(remove, [])]
        settings[key] = current + [item for item in change.get(add, []) if item not in current]
    fw.put(layer, kind, name, settings)


def write(request):
    """Run the steps in order: define, edit, delete, reload. Stop at the first failure.

    With ``files`` (many new definitions while the daemon runs, so a reload follows anyway)
    the permanent steps go straight to the files through the offline code, which costs the
    same for 4 definitions or 400, and the reload loads them.

    A reload step with ``otherwise`` stands for many runtime edits. firewalld applies a
    runtime zone or policy edit item by item, one nftables transaction per service or rich
    rule (25-50 ms each with a few hundred rules loaded), while a reload rebuilds the whole
    ruleset from the permanent configuration in one. A reload also drops the runtime-only
    changes of other tools and loads their pending permanent changes, so it is taken only
    when the two configurations differ in nothing but owned entries (checked before the
    first step); otherwise the runtime is edited item by item. The zone and policy edits of
    such a change still go over D-Bus: files changed behind the daemon's back reach its file
    watcher up to 5 s later, and the watcher, removing a vanished service, writes every zone
    that still refers to it back from the daemon's own view, stale until the reload. With the
    zone and policy already edited through the daemon, the unneeded service files are then
    deleted directly (one D-Bus call each costs 4-6 ms) and the reload loads the result.
    """
    fw = connect(request["offline"])
    # Steps planned against the running daemon (runtime edits, a reload) mean nothing to
    # the offline code: refuse before the first step rather than half-apply them.
    live = any(step.get("layer") == "runtime" or step["do"] == "reload" for step in request["steps"])
    if fw is None or (live and not fw.running):
        raise RuntimeError("firewalld stopped while the change was prepared; nothing was changed")
    bulk = [step for step in request["steps"] if "otherwise" in step]
    others = fw.reload_drops(bulk[0]["owner"], bulk[0]["owner"]) if bulk else []
    permanent = Offline() if fw.running and request.get("files") else fw
    unlinked = []
    for index, step in enumerate(request["steps"]):
        where = fw if step.get("layer") == "runtime" else permanent
        try:
            if step["do"] == "define":
                where.define(step["kind"], step["name"], step["settings"])
            elif step["do"] == "edit":
                edit(where, step["layer"], step["kind"], step["name"], step)
            elif step["do"] == "delete" and bulk and not others and step["kind"] == "service":
                unlinked.append(fw.unlink(step["kind"], step["name"]))
            elif step["do"] == "delete":
                where.delete(step["kind"], step["name"])
            elif others and "otherwise" in step:
                for change in step["otherwise"]:
                    edit(fw, "runtime", change["kind"], change["name"], change)
            else:
                fw.reload()
        except Exception as error:
            error.step = index
            put_back(unlinked)
            if where is fw and fw.running and step["do"] != "reload" and step.get("layer", "permanent") == "permanent":
                error.reloaded = forget_unwritten(fw, error, step)
            raise
    return {"done": len(request["steps"]), "reload_blocked_by": others}


def put_back(paths):
    """Undo ``unlink`` after a failed step: until a reload succeeds the daemon still knows these
    services, and the engine's restore may refer to them again."""
    for path in paths:
        with contextlib.suppress(OSError):
            os.rename(path + ".old", path)


def forget_unwritten(fw, error, step):
    """firewalld takes a new permanent setting into its memory before it writes the file. When
    the write fails (an OSError inside firewalld: "[Errno 30] Read-only file system"), its memory
    keeps what the disk lacks, checks every later definition against it and refuses a name it
    holds. A reload reads the disk again; True when it did. A new definition that firewalld
    could only half write (a full disk) is removed first: the reload refuses an invalid file."""
    if not message_of(error).startswith("[Errno"):
        return False
    if step["do"] == "define":
        with contextlib.suppress(OSError):
            os.remove(DEFINITIONS[step["kind"]] % step["name"])
    try:
        fw.reload()
    except Exception:  # the original error is what the caller reports
        return False
    return True


def message_of(error):
    """The error in firewalld's words; a daemon gone from the bus says so."""
    message = error.get_dbus_message() if hasattr(error, "get_dbus_message") else str(error)
    name = error.get_dbus_name() if hasattr(error, "get_dbus_name") else None
    if name in GONE:
        return "firewalld stopped during the change (D-Bus: %s)" % message
    return message


def state(request):
    return {"running": isinstance(connect(False), Online)}


def main(text):
    request = json.loads(text)
    try:
        answer = {"state": state, "read": read, "write": write}[request["action"]](request)
    except Exception as error:  # every failure is reported to the backend
        message = message_of(error)
        if getattr(error, "reloaded", False):
            message += FORGOTTEN
        sys.stderr.write("Error: %s\n" % message)
        sys.stdout.write(json.dumps({"error": message, "step": getattr(error, "step", None)}))
        raise SystemExit(1) from error
    sys.stdout.write(json.dumps(answer, sort_keys=True))
