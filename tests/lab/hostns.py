"""What makes a lab host its own machine: private libvirt directories, its own
/etc/hosts line, its own cgroup tree (cgroup namespace), and the scripts that enter
those namespaces and start its daemons.

Why a cgroup namespace: libvirt puts every guest at the absolute cgroup path
/machine/qemu-<id>-<name>.libvirt-qemu. Two libvirtds sharing one cgroup tree collide
as soon as a guest keeps its name and gets the same id on the other daemon (a
migrated guest does exactly that), and one daemon's cleanup then meets the other's
QEMU. So each host's daemons move into a cgroup `virtops-lab-<name>` of every
hierarchy, then `unshare -C` makes that cgroup the root they see (the hierarchies
are remounted inside the host's mount namespace).
"""
import os
import shutil

from lab.proc import LabError

# private mount point -> directory name under <state>/root
PRIVATE_DIRS = (('/run/libvirt', 'run'), ('/var/lib/libvirt', 'lib'), ('/etc/libvirt', 'etc'),
                ('/var/log/libvirt', 'log'), ('/var/cache/libvirt', 'cache'),
                # its own Ansible local facts (the host module's service state file)
                ('/etc/ansible', 'ansible'))
CGROUP_ROOT = '/sys/fs/cgroup'


def _copy_dir_tree(src, dst, depth, skip=lambda n: False):
    """Directories only (no files), keeping owner and mode, down to `depth` levels."""
    os.makedirs(dst, exist_ok=True)
    st = os.stat(src)
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)
    if depth <= 0:
        return
    for entry in os.scandir(src):
        if entry.is_dir(follow_symlinks=False) and not skip(entry.name):
            _copy_dir_tree(entry.path, os.path.join(dst, entry.name), depth - 1, skip)


def _write_etc(host, etc):
    """/etc/libvirt for the host: the main host's *.conf and nwfilters, none of its
    domains, networks, pools or secrets, plus the host's own settings."""
    os.makedirs(etc, mode=0o755)
    for entry in os.scandir('/etc/libvirt'):
        if entry.is_file(follow_symlinks=False) and entry.name.endswith('.conf'):
            shutil.copy2(entry.path, os.path.join(etc, entry.name))
    if os.path.isdir('/etc/libvirt/nwfilter'):
        shutil.copytree('/etc/libvirt/nwfilter', os.path.join(etc, 'nwfilter'))
    for sub in ('qemu', 'qemu/autostart', 'qemu/networks', 'qemu/networks/autostart',
                'storage', 'storage/autostart', 'secrets', 'nwfilter', 'hooks'):
        os.makedirs(os.path.join(etc, sub), exist_ok=True)
    os.chmod(os.path.join(etc, 'secrets'), 0o700)
    with open(os.path.join(etc, 'libvirtd.conf'), 'a') as fh:
        fh.write('\n# --- virtops lab host %s ---\n' % host.name)
        fh.write('listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\n')
        fh.write('tcp_port = "%d"\nauth_tcp = "none"\n' % host.tcp_port)
        fh.write('host_uuid = "%s"\n' % host.host_uuid)
        fh.write('log_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n')
    with open(os.path.join(etc, 'qemu.conf'), 'a') as fh:
        fh.write('\n# --- virtops lab host %s ---\n' % host.name)
        # libvirt refuses 127.0.0.1 as migration_host/migration_address ("must not be the address
        # of the local machine"): callers pass tcp://127.0.0.1 and listen address 127.0.0.1 themselves
        fh.write('migration_port_min = %d\nmigration_port_max = %d\n' % host.migration_ports)
        fh.write('remote_display_port_min = %d\nremote_display_port_max = %d\n' % host.display_ports)
        fh.write('remote_websocket_port_min = %d\nremote_websocket_port_max = %d\n' % host.websocket_ports)
        fh.write('vnc_listen = "127.0.0.1"\nspice_listen = "127.0.0.1"\n')


def fresh_state(host, log):
    """Recreate the host's private directories (runtime state and definitions)."""
    root = os.path.join(host.state_dir, 'root')
    log('%s: preparing private state under %s' % (host.name, root))
    for _mountpoint, sub in PRIVATE_DIRS:
        path = os.path.join(root, sub)
        if sub in ('log', 'cache') and os.path.isdir(path):
            continue        # logs are kept for debugging, the capabilities cache is safe to reuse
        shutil.rmtree(path, ignore_errors=True)
    _copy_dir_tree('/run/libvirt', os.path.join(root, 'run'), 0)
    _copy_dir_tree('/var/lib/libvirt', os.path.join(root, 'lib'), 3,
                   skip=lambda n: n.startswith('domain-') or n in ('images', 'dnsmasq'))
    os.makedirs(os.path.join(root, 'lib', 'images'), mode=0o711, exist_ok=True)
    _write_etc(host, os.path.join(root, 'etc'))
    os.makedirs(os.path.join(root, 'ansible'), mode=0o755)
    sources = {sub: mountpoint for mountpoint, sub in PRIVATE_DIRS}
    for sub in ('log', 'cache'):
        if not os.path.isdir(os.path.join(root, sub)):
            _copy_dir_tree(sources[sub], os.path.join(root, sub), 1)
    os.makedirs(os.path.join(root, 'log', 'qemu'), exist_ok=True)
    # the host's own name must resolve without DNS: libvirt looks it up (migration
    # cookies, getHostname), and a DNS timeout costs seconds per call
    with open('/etc/hosts') as src, open(os.path.join(host.state_dir, 'hosts'), 'w') as dst:
        dst.write(src.read().rstrip('\n') + '\n127.0.1.1 %s\n' % host.name)


def fresh_runtime(host, log):
    """Only the host's runtime directory anew (as after a reboot); its definitions, hooks and logs stay."""
    run_dir = os.path.join(host.state_dir, 'root', 'run')
    log('%s: keeping its definitions, fresh runtime state under %s' % (host.name, run_dir))
    shutil.rmtree(run_dir, ignore_errors=True)
    _copy_dir_tree('/run/libvirt', run_dir, 0)


# ---------------------------------------------------------------- cgroups

def cgroup_mounts():
    """[(mountpoint, fstype, options)] of the cgroup hierarchies mounted under /sys/fs/cgroup."""
    found = []
    with open('/proc/self/mountinfo') as fh:
        for line in fh:
            pre, post = line.split(' - ', 1)
            mountpoint = pre.split()[4]
            fstype, _source, superopts = post.split()[:3]
            if fstype in ('cgroup', 'cgroup2') and mountpoint.startswith(CGROUP_ROOT):
                opts = [o for o in superopts.split(',') if o not in ('rw', 'ro')]
                found.append((mountpoint, fstype, opts))
    return found


def _placement(fstype, opts):
    """This process's cgroup path in the hierarchy with these mount options."""
    with open('/proc/self/cgroup') as fh:
        for line in fh:
            _id, ctrls, path = line.rstrip('\n').split(':', 2)
            if fstype == 'cgroup2' and ctrls == '':
                return path
            if fstype == 'cgroup' and ctrls and set(ctrls.split(',')) <= set(opts):
                return path
    return None


def host_cgroups(name):
    """[(mountpoint, fstype, opts, directory)]: where host `name`'s daemons will live."""
    result = []
    for mountpoint, fstype, opts in cgroup_mounts():
        placement = _placement(fstype, opts)
        if placement is None:
            continue
        result.append((mountpoint, fstype, opts,
                       os.path.join(mountpoint + placement.rstrip('/'), 'virtops-' + name)))
    return result


def prepare_cgroups(name):
    cgroups = host_cgroups(name)
    for mountpoint, fstype, opts, directory in cgroups:
        os.makedirs(directory, exist_ok=True)
        if 'cpuset' in opts and fstype == 'cgroup':
            parent = os.path.dirname(directory)
            for knob in ('cpuset.cpus', 'cpuset.mems'):
                with open(os.path.join(directory, knob)) as fh:
                    if fh.read().strip():
                        continue
                with open(os.path.join(parent, knob)) as src, open(os.path.join(directory, knob), 'w') as dst:
                    dst.write(src.read().strip())
    return cgroups


def remove_cgroups(name):
    """Remove host `name`'s cgroups (deepest first), wherever a past run made them."""
    target = 'virtops-' + name
    for mountpoint, _fstype, _opts in cgroup_mounts():
        for top, dirs, _files in os.walk(mountpoint):
            if os.path.basename(top) == target:
                for sub, _d, _f in sorted(os.walk(top), key=lambda t: -t[0].count('/')):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass
                dirs[:] = []
            elif top.count('/') - mountpoint.count('/') >= 3:
                dirs[:] = []        # ours sit at most 3 levels down (the caller's placement)


# ---------------------------------------------------------------- start scripts

def write_start_scripts(host, pidfile):
    """outer.sh joins the host's cgroups and unshares; inner.sh runs inside the new
    mount + UTS + cgroup namespaces. Returns the command that starts the host."""
    root = os.path.join(host.state_dir, 'root')
    inner = os.path.join(host.state_dir, 'inner.sh')
    try:
        cgroups = prepare_cgroups(host.name)
    except OSError as exc:
        raise LabError('cannot create cgroups for %s: %s' % (host.name, exc)) from None
    outer = ['set -e']
    outer += ['echo $$ > %s/cgroup.procs' % d for _m, _t, _o, d in cgroups]
    outer.append('exec unshare -m -u %s--propagation private sh %s' % ('-C ' if cgroups else '', inner))
    lines = ['set -e']
    for mountpoint, fstype, opts, _d in cgroups:
        if fstype == 'cgroup2':
            lines.append('umount %s && mount -t cgroup2 virtops-lab %s' % (mountpoint, mountpoint))
        else:
            if all(o.startswith('name=') for o in opts):
                opts = ['none'] + opts
            lines.append('umount %s && mount -t cgroup -o %s virtops-lab %s'
                         % (mountpoint, ','.join(opts), mountpoint))
    for mountpoint, sub in PRIVATE_DIRS:
        lines.append('mkdir -p %s && mount --bind %s %s' % (mountpoint, os.path.join(root, sub), mountpoint))
    lines.append('mount --bind %s /etc/hosts' % os.path.join(host.state_dir, 'hosts'))
    for hidden in host.hidden_dirs:
        lines.append('if [ -d %s ]; then mount -t tmpfs -o size=1m,mode=755 virtops-hidden %s; fi' % (hidden, hidden))
    lines += ['hostname %s' % host.name,
              'virtlogd -d -p %s' % pidfile(host, 'virtlogd'),
              'libvirtd -d --listen -p %s' % pidfile(host, 'libvirtd')]
    with open(inner, 'w') as fh:
        fh.write('\n'.join(lines) + '\n')
    outer_path = os.path.join(host.state_dir, 'start.sh')
    with open(outer_path, 'w') as fh:
        fh.write('\n'.join(outer) + '\n')
    return ['sh', outer_path]
