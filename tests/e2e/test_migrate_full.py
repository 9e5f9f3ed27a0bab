"""The full Debian guest (session fixture lab-full, on the main host) live-migrated to lab-host1 and back: a file
written through the guest agent before is there after, and its uptime carries on. Whatever happens, lab-full ends
back on the main host, running, for the tests after this one."""
import time

import libvirt

from lab.runner import run_module
from test_migrate import MIGRATION_URI, agent_sh, assert_runs_once, find, uptime, wait_agent

MARKER = '/root/virtops-migrate-marker'


def _bring_back(main_conn, lab_conn, name, xml, main_tcp_uri):
    """lab-full back on the main host, running: migrated back if it still runs there, else rebooted here."""
    if find(main_conn, name) is not None and find(lab_conn, name) is None:
        if not main_conn.lookupByName(name).isActive():
            main_conn.lookupByName(name).create()
        return
    there = find(lab_conn, name)
    if there is not None and there.isActive():
        try:
            there.migrateToURI3(main_tcp_uri, {'migrate_uri': MIGRATION_URI},
                                libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
                                | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE | libvirt.VIR_MIGRATE_UNSAFE)
            return
        except libvirt.libvirtError:
            pass
    for conn in (lab_conn, main_conn):
        dom = find(conn, name)
        if dom is not None:
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
    main_conn.defineXML(xml).create()


def test_full_guest_round_trip(full_guest, libvirt_conn, lab_host1, main_tcp_uri):
    name = full_guest.name
    full_guest.wait_for_agent(timeout=180)
    xml = libvirt_conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    token = 'moved-%d' % time.time()
    agent_sh(libvirt_conn, name, 'echo %s > %s; sync' % (token, MARKER))
    lab_conn = libvirt.open(lab_host1.uri)
    try:
        up_before = uptime(libvirt_conn, name)
        out = run_module('migrate', guest=name, dest_uri=lab_host1.uri, migration_uri=MIGRATION_URI, timeout=300, allow_unsafe=True)
        assert not out.failed, out.msg
        assert out.changed and out['migration']['mode_used'] == 'pre-copy'
        assert_runs_once(lab_conn, libvirt_conn, name)
        wait_agent(lab_conn, name)
        assert agent_sh(lab_conn, name, 'cat %s' % MARKER).strip() == token, 'the file written before is gone'
        up_there = uptime(lab_conn, name)
        assert up_there > up_before, 'the guest rebooted instead of moving'

        back = run_module('migrate', uri=lab_host1.uri, guest=name, dest_uri=main_tcp_uri,
                          migration_uri=MIGRATION_URI, timeout=300, allow_unsafe=True)
        assert not back.failed, back.msg
        assert_runs_once(libvirt_conn, lab_conn, name)
        wait_agent(libvirt_conn, name)
        assert uptime(libvirt_conn, name) > up_there
        assert agent_sh(libvirt_conn, name, 'cat %s' % MARKER).strip() == token
    finally:
        _bring_back(libvirt_conn, lab_conn, name, xml, main_tcp_uri)
        lab_conn.close()
    assert libvirt_conn.lookupByName(name).state()[0] == libvirt.VIR_DOMAIN_RUNNING
