#!/usr/bin/env bash
# `make ee-test`: run the collection's site and verify playbooks inside the execution
# environment with `ansible-navigator run` (EE mode), the way AWX runs a job: the
# playbooks, the collection, ansible-core and the SSH client all come from the image;
# the host provides only the inventory, an SSH key and the container engine.
#
# Two SSH targets run in containers from localhost/biostar-hardening-base: a BioStar
# server and a client, each with its own default-deny nftables input chain (SSH allowed)
# and sshd. The server runs listeners on TCP 1470, 1471, 1480 and 8080 and UDP 51110.
#   1. verify before converging must FAIL (the server's ports are filtered): the probes
#      really measure the firewall;
#   2. site converges both hosts (changes, no failure);
#   3. site again changes nothing;
#   4. verify passes: from the client, 1470/1471/1480 answer, UDP 51110 gets no ICMP
#      unreachable, and 8080 (listening, not in the matrix, in biostar_verify_extra_checks)
#      stays closed.
# Probes go only to these two containers; every probe has a timeout and bounded retries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/tests/containers/containers.conf}
venv=$(bash "$repo/scripts/tool-venv.sh" ee-tools python3 "$here/requirements.txt")
image=localhost/biostar-hardening-ee:latest
target_image=localhost/biostar-hardening-base:latest
for needed in "$image" "$target_image"; do
  podman image exists "$needed" || { echo "ee-test: image $needed is missing (make ee, make images)" >&2; exit 1; }
done

# What the image holds: the collection from the tarball, and what its
# meta/execution-environment.yml asks for (pywinrm, the OpenSSH client).
contents=$(podman run --rm --name biostar-ee-test-contents "$image" \
  bash -c 'ansible-galaxy collection list biostar.hardening 2>/dev/null; python3 -c "import winrm; print(\"pywinrm\", winrm.__file__)"; ssh -V 2>&1')
while IFS= read -r line; do echo "  $line"; done <<<"$contents"
grep -q '^biostar.hardening ' <<<"$contents" || { echo "ee-test: biostar.hardening is not in $image" >&2; exit 1; }
grep -q '^pywinrm ' <<<"$contents" || { echo "ee-test: pywinrm is not in $image" >&2; exit 1; }

# ansible-navigator refuses to start a podman EE without /dev/mqueue (POSIX message
# queues, which podman bind-mounts into containers). This VM kind has none by default.
if [[ ! -d /dev/mqueue ]]; then
  echo "ee-test: creating /dev/mqueue (ansible-navigator requires it with podman)"
  mkdir -p /dev/mqueue
  mount -t mqueue mqueue /dev/mqueue 2>/dev/null || true
fi

prefix=biostar-ee-test
work=$(mktemp -d /tmp/biostar-ee-test.XXXXXX)
cleanup() {
  podman rm -f -t 0 "$prefix-server" "$prefix-client" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
podman rm -f -t 0 "$prefix-server" "$prefix-client" >/dev/null 2>&1 || true

# The EE runs as uid 1000 (ansible-builder's default), as in AWX: the key must be its own.
ssh-keygen -q -t ed25519 -N "" -C biostar-ee-test -f "$work/id_ed25519"
chown 1000:0 "$work/id_ed25519"
chmod 0755 "$work"

host_ruleset='table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
  }
}'
# TCP: accept and close. UDP: take the datagram and stay silent, as BioStar does on
# 51110 (without a socket the host answers ICMP port unreachable, which reads closed).
listener='
import selectors, socket, sys, time
deadline = time.monotonic() + float(sys.argv[3])
sel = selectors.DefaultSelector()
for kind, ports in ((socket.SOCK_STREAM, sys.argv[1]), (socket.SOCK_DGRAM, sys.argv[2])):
    for port in ports.split(","):
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        if kind == socket.SOCK_STREAM:
            s.listen(16)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, kind)
while time.monotonic() < deadline:
    for key, _ in sel.select(timeout=1):
        if key.data == socket.SOCK_STREAM:
            key.fileobj.accept()[0].close()
        else:
            key.fileobj.recv(2048)
'
declare -A address
for host in server client; do
  name=$prefix-$host
  podman run -d --name "$name" --hostname "$host" --init --cap-add NET_ADMIN --cap-add NET_RAW \
    "$target_image" sleep 900 >/dev/null
  podman exec "$name" mkdir -m 0700 -p /root/.ssh
  podman cp "$work/id_ed25519.pub" "$name:/root/.ssh/authorized_keys"
  podman exec "$name" chown root:root /root/.ssh/authorized_keys
  podman exec -i "$name" nft -f - <<<"$host_ruleset"
  podman exec "$name" /usr/sbin/sshd
  address[$host]=$(podman inspect --format '{{.NetworkSettings.IPAddress}}' "$name")
done
podman exec -d "$prefix-server" python3 -c "$listener" 1470,1471,1480,8080 51110 600 >/dev/null

cat >"$work/inventory.yml" <<YAML
all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: $work/id_ed25519
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    ansible_python_interpreter: /usr/bin/python3
    biostar_mode: server
    biostar_firewall_backend: nftables
  children:
    biostar_servers:
      hosts:
        server:
          ansible_host: ${address[server]}
          biostar_verify_extra_checks:
            - {protocol: tcp, port: 8080, expect: closed}
    biostar_clients:
      hosts:
        client:
          ansible_host: ${address[client]}
YAML
for playbook in site verify; do
  cat >"$work/$playbook.yml" <<YAML
---
# As an AWX project would: the playbook that ships in the collection, from the EE.
- name: Run biostar.hardening.$playbook from the execution environment
  ansible.builtin.import_playbook: biostar.hardening.$playbook
YAML
done
cat >"$work/ansible-navigator.yml" <<YAML
---
ansible-navigator:
  mode: stdout
  playbook-artifact:
    enable: false
  logging:
    level: warning
    file: $work/ansible-navigator.log
  execution-environment:
    enabled: true
    image: $image
    container-engine: podman
    pull:
      policy: never
    environment-variables:
      set:
        ANSIBLE_NOCOLOR: "1"
        ANSIBLE_FORCE_COLOR: "0"
        ANSIBLE_HOST_KEY_CHECKING: "False"
YAML

navigate() {  # navigate PLAYBOOK LOG: ansible-navigator run in EE mode, output to LOG
  (cd "$work" && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH ANSIBLE_NAVIGATOR_CONFIG="$work/ansible-navigator.yml" \
    timeout 600 "$venv/bin/ansible-navigator" run "$work/$1.yml" -i "$work/inventory.yml") >"$2" 2>&1
}
recap() {  # recap LOG HOST: the PLAY RECAP counters of HOST, as "changed=N failed=N ..."
  grep -E "^$2 +:" "$1" | tail -n 1
}
fail() {
  echo "ee-test: $1" >&2
  [[ -n ${2:-} ]] && tail -n 60 "$2" >&2
  exit 1
}

echo "ee-test: 1. verify before converging (must fail: the server drops the BioStar ports)"
if navigate verify "$work/verify-before.log"; then
  fail "verify passed before the firewall was converged; the probes prove nothing" "$work/verify-before.log"
fi
grep -q "server: tcp/1480 expected open, got filtered" "$work/verify-before.log" \
  || fail "verify failed before converging, but not because tcp/1480 was filtered" "$work/verify-before.log"
echo "  failed as it must: $(grep -o 'server: tcp/1480 expected open, got filtered' "$work/verify-before.log" | head -n 1)"

echo "ee-test: 2. site.yml in the EE"
navigate site "$work/site.log" || fail "site.yml failed in the EE" "$work/site.log"
for host in server client; do
  line=$(recap "$work/site.log" "$host")
  [[ $line =~ changed=[1-9] && $line =~ failed=0 && $line =~ unreachable=0 ]] \
    || fail "site.yml: expected changes and no failure on $host, got: $line" "$work/site.log"
  echo "  $line"
done
ruleset=$(podman exec "$prefix-server" nft list ruleset)
grep -q 'dport 1480' <<<"$ruleset" || fail "the server's ruleset has no rule for TCP 1480 after site.yml: $ruleset"

echo "ee-test: 3. site.yml again changes nothing"
navigate site "$work/site-again.log" || fail "site.yml (second run) failed in the EE" "$work/site-again.log"
for host in server client; do
  line=$(recap "$work/site-again.log" "$host")
  [[ $line =~ changed=0 && $line =~ failed=0 ]] || fail "site.yml rerun changed $host: $line" "$work/site-again.log"
  echo "  $line"
done

echo "ee-test: 4. verify.yml in the EE, probing from the client"
navigate verify "$work/verify.log" || fail "verify.yml failed in the EE" "$work/verify.log"
line=$(recap "$work/verify.log" client)
[[ $line =~ failed=0 ]] || fail "verify.yml: $line" "$work/verify.log"
# port_probe's summary lines: protocol, port, expectation, state seen, ok/FAIL.
for expected in "tcp +1470 expect open +open +ok" "tcp +1471 expect open +open +ok" \
  "tcp +1480 expect open +open +ok" "udp +51110 expect open +open\\|filtered +ok" \
  "tcp +8080 expect closed +filtered +ok"; do
  grep -Eq "$expected" "$work/verify.log" || fail "verify.yml output does not show: $expected" "$work/verify.log"
done
sed -n '/TASK \[Show what each probe saw\]/,/^$/p' "$work/verify.log" | sed 's/^/  /' | head -n 30
echo "ee-test: passed (navigator $("$venv/bin/ansible-navigator" --version | head -n 1 | cut -d' ' -f2), image $image)"
