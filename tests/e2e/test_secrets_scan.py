"""Secrets scan: a CHAP password, a config-drive admin_pass, a guest password set through the agent and VNC/SPICE
passwords, given to real playbooks run with -vvv and --diff, are looked for everywhere they could leak: task
results, the play's output, every flavour of domain XML, libvirt's own files and logs. Files the collection writes
for the guest must not be world-readable, and the consoles listen on 127.0.0.1 unless told otherwise.

Every secret is random per run, so a hit can only be a leak of this run."""
import glob
import json
import os
import secrets
import shutil
import stat
import subprocess

import libvirt
import pytest

from lab import guests, tally
from lab.inventory_plugin import inventory_list, write_inventory
from lab.runner import REPO_ROOT, run_module, run_playbook
from test_migrate import wait_agent

NAME = 'lab-ri-sec'
WORK = os.path.join(guests.SHARED_DIR, 'ri-sec')
DRIVE = os.path.join(WORK, NAME + '.iso')
RESULTS = os.path.join(REPO_ROOT, '.build', 'ri-sec-results.json')
LIBVIRT_LOGS = ['/var/log/libvirt', '/run/virtops-lab/main-daemons.log']

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: config drive with an admin password, user data and a file that hold secrets
      virtops.compute.config_drive:
        dest: "{{ drive }}"
        name: "{{ guest_name }}"
        hostname: "{{ guest_name }}"
        admin_pass: "{{ admin_pass }}"
        user_data: "#cloud-config\nchpasswd: {list: 'ops:{{ user_data_secret }}'}\n"
        files:
          - {path: /etc/app/token, content: "{{ file_secret }}"}
      register: drive_result
    - name: guest with password-protected consoles
      virtops.compute.guest: "{{ guest | combine({'graphics': [
          {'type': 'vnc', 'password': vnc_password}, {'type': 'spice', 'password': spice_password}]}) }}"
      register: guest_result
    - name: iSCSI LUN behind CHAP
      virtops.compute.volume_attachment:
        guest: "{{ guest_name }}"
        target: vdc
        readonly: true
        iscsi: "{{ lun }}"
      register: lun_result
    - name: keep what the tasks returned
      ansible.builtin.copy:
        dest: "{{ results }}"
        content: "{{ {'drive': drive_result, 'guest': guest_result, 'lun': lun_result} | to_nice_json }}"
        mode: '0600'
"""

PASSWORD_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: password through the guest agent
      virtops.compute.guest_action:
        name: "{{ guest_name }}"
        action: set_password
        password: "{{ user_password }}"
      register: password_result
    - name: keep what the task returned
      ansible.builtin.copy:
        dest: "{{ results }}"
        content: "{{ password_result | to_nice_json }}"
        mode: '0600'
"""


def _secret(kind):
    if kind == 'vnc':
        return secrets.token_hex(4)       # VNC allows at most 8 characters
    return 'ri-%s-%s' % (kind, secrets.token_hex(8))


def _remove(conn):
    run_module('guest', name=NAME, state='absent')
    guests.remove_guest(conn, NAME)
    try:
        pool = conn.storagePoolLookupByName('virtops-instances')
        pool.refresh(0)
        for vol in pool.listAllVolumes(0):
            if vol.name().startswith(NAME + '-'):
                vol.delete(0)
    except libvirt.libvirtError:
        pass
    shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope='module')
def played(libvirt_conn, tiny_image, iscsi_target):
    _remove(libvirt_conn)
    os.makedirs(os.path.join(WORK, 'boot'), mode=0o755)
    os.chmod(WORK, 0o755)
    base = os.path.join(WORK, 'base.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '16M'], check=True)
    guest = dict(name=NAME, virt_type='qemu', memory_mb=160, cmdline=tiny_image.cmdline, image=base,
                 guest_agent=True, shutdown_timeout=10, config_drive=DRIVE, allow_restart=True)
    for key in ('kernel', 'initrd'):
        guest[key] = shutil.copy(getattr(tiny_image, key), os.path.join(WORK, 'boot'))
    lun = dict(portal=iscsi_target.portal, iqn=iscsi_target.iqn, lun=iscsi_target.lun,
               chap_username=iscsi_target.chap_username, chap_password=iscsi_target.chap_password)
    found = {'chap': iscsi_target.chap_password}
    outputs, runs = [], []
    # the second pass changes the console and admin passwords, so that the diffs have something to show
    for _pass in range(2):
        for kind in ('vnc', 'spice', 'admin', 'user_data', 'file'):
            found.setdefault(kind + '_all', []).append(_secret(kind))
        play = run_playbook(PLAY, diff=True, args=['-vvv'], timeout=600, extra_vars=dict(
            drive=DRIVE, guest_name=NAME, guest=guest, lun=lun, results=RESULTS,
            vnc_password=found['vnc_all'][-1], spice_password=found['spice_all'][-1],
            admin_pass=found['admin_all'][-1], user_data_secret=found['user_data_all'][-1],
            file_secret=found['file_all'][-1]))
        assert play.rc == 0, play.stdout[-3000:]
        outputs.append(play.stdout + play.stderr)
        with open(RESULTS) as handle:
            runs.append(json.load(handle))
    wait_agent(libvirt_conn, NAME, 240)
    found['user'] = _secret('user')
    play = run_playbook(PASSWORD_PLAY, diff=True, args=['-vvv'], timeout=300,
                        extra_vars=dict(guest_name=NAME, user_password=found['user'], results=RESULTS))
    assert play.rc == 0, play.stdout[-3000:]
    outputs.append(play.stdout + play.stderr)
    with open(RESULTS) as handle:
        runs.append(json.load(handle))
    os.unlink(RESULTS)
    assert runs[1]['guest']['changed'] and runs[1]['drive']['changed'], 'the second pass changed nothing to diff'
    assert any(r.get('diff') for r in [runs[1]['guest'], runs[1]['drive']]), 'no diff was produced'
    yield dict(secrets=found, outputs=outputs, results=runs, guest=guest)
    _remove(libvirt_conn)


def _all_secrets(found):
    return {'CHAP password': [found['chap']], 'admin_pass': found['admin_all'], 'user password': [found['user']],
            'VNC password': found['vnc_all'], 'SPICE password': found['spice_all'],
            'user_data': found.get('user_data_all', []), 'file content': found.get('file_all', [])}


def _scan(places, found):
    """Assert no secret occurs in any place; tallies each place looked at and each kind of secret looked for."""
    leaks = []
    for place, text in places.items():
        for label, values in _all_secrets(found).items():
            leaks += ['%s in %s' % (label, place) for value in values if value in text]
    assert not leaks, 'secrets leaked: ' + '; '.join(leaks)
    for place in places:
        tally.case('places scanned for secrets', place)
    for label, values in _all_secrets(found).items():
        if values:
            tally.case('kinds of secret looked for', label)


def test_no_secret_in_results_or_output(played):
    places = {'play output %d (-vvv, --diff)' % i: out for i, out in enumerate(played['outputs'])}
    places.update({'task results %d' % i: json.dumps(r) for i, r in enumerate(played['results'])})
    assert 'iSCSI LUN behind CHAP' in played['outputs'][0] and 'chap_password' in played['outputs'][0]
    assert 'user_data' in played['outputs'][0] and '/etc/app/token' in played['outputs'][0]
    _scan(places, played['secrets'])


def _domain_xmls(conn):
    dom = conn.lookupByName(NAME)
    flags = {'live': 0, 'inactive': libvirt.VIR_DOMAIN_XML_INACTIVE, 'migratable': libvirt.VIR_DOMAIN_XML_MIGRATABLE}
    xmls = {}
    for label, flag in flags.items():
        xmls[label] = dom.XMLDesc(flag)
        xmls[label + ' (secure)'] = dom.XMLDesc(flag | libvirt.VIR_DOMAIN_XML_SECURE)
    return xmls


def _read_only_xmls():
    conn = libvirt.openReadOnly('qemu:///system')
    try:
        dom = conn.lookupByName(NAME)
        xmls = {'read-only %s' % label: dom.XMLDesc(flag) for label, flag in (
            ('live', 0), ('inactive', libvirt.VIR_DOMAIN_XML_INACTIVE))}
        # libvirt keeps both forms that carry the console passwords from read-only clients
        for flag in (libvirt.VIR_DOMAIN_XML_SECURE, libvirt.VIR_DOMAIN_XML_MIGRATABLE):
            with pytest.raises(libvirt.libvirtError):
                dom.XMLDesc(flag)
        return xmls
    finally:
        conn.close()


def test_domain_xml_holds_console_passwords_only_where_libvirt_needs_them(played, libvirt_conn):
    found = played['secrets']
    xmls = _domain_xmls(libvirt_conn)
    vnc, spice = found['vnc_all'][-1], found['spice_all'][-1]
    # libvirt shows console passwords only to a privileged caller asking for them: the option did land
    assert vnc in xmls['live (secure)'] and spice in xmls['inactive (secure)']
    others = dict(found, vnc_all=[], spice_all=[])
    _scan(xmls, others)
    # the migratable XML is what libvirt hands the destination, so it keeps the console passwords; a read-only
    # client sees them in no form of the XML
    _scan({k: v for k, v in xmls.items() if 'secure' not in k and k != 'migratable'}, found)
    _scan(_read_only_xmls(), found)
    # the LUN reaches its password through a libvirt secret, by reference
    assert "<secret type='iscsi' usage=" in xmls['inactive (secure)'], 'the LUN carries no secret reference'
    config = '/etc/libvirt/qemu/%s.xml' % NAME
    with open(config) as handle:
        saved = handle.read()
    assert vnc in saved, 'the console password is not in the domain config libvirt keeps'
    mode = stat.S_IMODE(os.stat(config).st_mode)
    dir_mode = stat.S_IMODE(os.stat(os.path.dirname(config)).st_mode)
    assert not mode & 0o077 or not dir_mode & 0o077, '%s is %o in a %o directory' % (config, mode, dir_mode)
    _scan({config: saved}, others)
    # where libvirt keeps the CHAP password itself
    secrets_dir = '/etc/libvirt/secrets'
    assert not stat.S_IMODE(os.stat(secrets_dir).st_mode) & 0o077, '%s is open to others' % secrets_dir


def _log_texts():
    texts = {}
    for root in LIBVIRT_LOGS:
        paths = [root] if os.path.isfile(root) else glob.glob(os.path.join(root, '**', '*'), recursive=True)
        for path in paths:
            if os.path.isfile(path):
                with open(path, 'rb') as handle:
                    texts[path] = handle.read().decode(errors='replace')
    return texts


def test_no_secret_in_libvirt_logs(played):
    texts = _log_texts()
    qemu_log = '/var/log/libvirt/qemu/%s.log' % NAME
    assert qemu_log in texts and '-name guest=%s' % NAME in texts[qemu_log], 'the guest\'s QEMU log was not found'
    # QEMU is given the CHAP password as a libvirt secret object (encrypted), never in clear
    assert 'secret' in texts[qemu_log]
    joined = {'%d libvirt log files' % len(texts): '\n'.join(texts.values())}
    _scan(joined, played['secrets'])


def test_guest_files_are_not_world_readable(played, libvirt_conn):
    dom = libvirt_conn.lookupByName(NAME)
    from xml.etree import ElementTree
    tree = ElementTree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    files = [s.get('file') for s in tree.findall('devices/disk/source') if s.get('file')]
    files += [log.get('file') for log in tree.findall('devices/serial/log')]
    assert DRIVE in files and len(files) >= 3, files
    loose = ['%s (%o)' % (path, stat.S_IMODE(os.stat(path).st_mode)) for path in files
             if os.stat(path).st_mode & stat.S_IROTH]
    assert not loose, 'world-readable guest files: ' + ', '.join(loose)


def test_consoles_listen_on_localhost(played, libvirt_conn):
    from xml.etree import ElementTree
    tree = ElementTree.fromstring(libvirt_conn.lookupByName(NAME).XMLDesc(0))
    listening = subprocess.run(['ss', '-Hltn'], capture_output=True, text=True, check=True).stdout
    for kind in ('vnc', 'spice'):
        graphics = tree.find("devices/graphics[@type='%s']" % kind)
        assert graphics.get('listen') == '127.0.0.1', ElementTree.tostring(graphics)
        port = graphics.get('port')
        assert port and int(port) > 0
        assert '127.0.0.1:%s ' % port in listening and '0.0.0.0:%s ' % port not in listening, listening


def test_no_secret_in_the_inventory_its_cache_or_guest_info(played, tmp_path):
    """What the controller keeps about the guest: the inventory plugin's answer and its cache, guest_info's result."""
    cache = tmp_path / 'cache'
    path = write_inventory(tmp_path, 'scan.libvirt.yml', uris=['qemu:///system'], cache=True,
                           cache_plugin='ansible.builtin.jsonfile', cache_connection=str(cache))
    listing = inventory_list(path)
    assert NAME in listing['_meta']['hostvars'], 'the guest is not in the inventory'
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700, 'the inventory cache directory is open to others'
    places = {'inventory': json.dumps(listing), 'guest_info': json.dumps(run_module('guest_info', name=NAME).data)}
    places.update(('cache file ' + name, (cache / name).read_text()) for name in os.listdir(cache))
    assert len(places) > 2, 'the cache holds no file'
    _scan(places, played['secrets'])


def test_rescue_keeps_console_passwords_out_of_metadata(played, libvirt_conn, tmp_path):
    found = played['secrets']
    graphics = [dict(type='vnc', password=found['vnc_all'][-1]), dict(type='spice', password=found['spice_all'][-1])]
    params = dict(played['guest'], graphics=graphics)
    rescued = run_module('guest', **dict(params, state='rescued', rescue_image=params['image']))
    assert not rescued.failed and rescued['guest']['rescued'], rescued.msg
    try:
        assert 'unrescued_definition' in libvirt_conn.lookupByName(NAME).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        listing = inventory_list(write_inventory(tmp_path, 'rescued.libvirt.yml', uris=['qemu:///system']))
        places = dict(_read_only_xmls(), inventory=json.dumps(listing),
                      guest_info=json.dumps(run_module('guest_info', name=NAME).data))
        _scan(places, found)
    finally:
        back = run_module('guest', **params)
    assert not back.failed and not back['guest']['rescued'], back.msg
    secure = libvirt_conn.lookupByName(NAME).XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
    assert found['vnc_all'][-1] in secure and found['spice_all'][-1] in secure, 'unrescue lost the console passwords'


def test_snapshots_are_private_to_root(played):
    dest = os.path.join(WORK, 'private-snapshot.qcow2')
    result = run_module('snapshot', guest=NAME, dest=dest, mode='live')
    assert not result.failed, result.msg
    info = os.stat(dest)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, 0), '%s is %o, uid %d' % (dest, info.st_mode, info.st_uid)
    assert [name for name in os.listdir(WORK) if 'partial' in name] == [], 'a partial snapshot file was left'
    os.unlink(dest)
