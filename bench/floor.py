"""The floor: one Python process making the libvirt calls a converge needs, nothing else.

Run as a script so that its own start-up counts, like a module's does:
    python floor.py create|noop|info|remove <uri> <pool> <base> <name>...
It prints the seconds spent, measured inside.
"""
import sys
import time

import libvirt

DOMAIN = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>{memory}</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os><features><acpi/><apic/></features>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
<target dev='vda' bus='virtio'/></disk><serial type='pty'/><console type='pty'/></devices></domain>"""
OVERLAY = """<volume><name>{name}-root.qcow2</name><capacity unit='MiB'>16</capacity>
<target><format type='qcow2'/></target><backingStore><path>{base}</path><format type='qcow2'/></backingStore></volume>"""
MEMORY_MIB = 32


def create(conn, pool, base, names):
    for name in names:
        vol = pool.createXML(OVERLAY.format(name=name, base=base), 0)
        dom = conn.defineXML(DOMAIN.format(name=name, memory=MEMORY_MIB, disk=vol.path()))
        dom.create()


def noop(conn, _pool, _base, names):
    for name in names:
        dom = conn.lookupByName(name)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        dom.XMLDesc(0)


def info(conn, _pool, _base, _names):
    for dom in conn.listAllDomains(0):
        dom.info()
        dom.XMLDesc(0)


def remove(conn, pool, _base, names):
    for name in names:
        try:
            dom = conn.lookupByName(name)
        except libvirt.libvirtError:
            continue
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
    pool.refresh(0)
    for name in names:
        for suffix in ('-root.qcow2', '-console.log'):
            try:
                pool.storageVolLookupByName(name + suffix).delete(0)
            except libvirt.libvirtError:
                pass


def main(argv):
    started = time.monotonic()
    action, uri, pool_name, base = argv[:4]
    conn = libvirt.open(uri)
    pool = conn.storagePoolLookupByName(pool_name)
    {'create': create, 'noop': noop, 'info': info, 'remove': remove}[action](conn, pool, base, argv[4:])
    conn.close()
    print('%.3f' % (time.monotonic() - started))


if __name__ == '__main__':
    main(sys.argv[1:])
