"""A guest definition as the guest module builds it, for the unit tests of recorded definitions and records."""
from ansible_collections.virtops.compute.plugins.module_utils.guest import spec as guest_spec

POOL = '/srv/pool'


def guest_xml(extra_devices='', extra_top='', root='/srv/pool/web1-root.qcow2'):
    """A guest as the guest module builds it, with a config drive, a console log, a VNC console and the agent."""
    params = dict(virt_type='qemu', vcpus=1, memory_mb=256, kernel=POOL + '/vmlinuz', initrd=POOL + '/initrd',
                  cmdline='console=ttyS0 root=/dev/vda', config_drive=POOL + '/web1.iso', guest_agent=True,
                  graphics=[dict(type='vnc', listen='127.0.0.1', password='s3cret')],
                  serial_console=dict(type='pty'))
    domain = guest_spec.build_domain('web1', params, root_disk=(root, 'qcow2'), serial_log=POOL + '/web1-console.log',
                                     uuid='6f1c2d3e-0000-4000-8000-000000000001',
                                     metadata=dict(managed_by='virtops.compute', root_volume=root))
    xml = domain.to_xml()
    xml = xml.replace('<devices>', '<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>' + extra_devices, 1)
    return xml.replace('</domain>', extra_top + '</domain>')
