# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk_inject module's work: read what the image holds, write only what differs.

The image is mounted read-only while the wanted files are compared, and writable only
when something differs, so a run that changes nothing leaves the image's bytes alone.
"""


import os
import posixpath

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import appliance_watch
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import content
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import guestfs as guestfs_ops
from ansible_collections.virtops.compute.plugins.module_utils.storage import chain

FILE_OPTIONS = dict(
    path=dict(type='str', required=True),
    content=dict(type='str', required=True, no_log=True),
    mode=dict(type='raw', default='0644'),
    owner=dict(type='str', default='root'),
)
SSH_KEY_OPTIONS = dict(user=dict(type='str', default='root'), key=dict(type='str', required=True, no_log=False))
INTERFACE_OPTIONS = dict(
    name=dict(type='str', required=True),
    dhcp=dict(type='bool'),
    address=dict(type='str'),
    gateway=dict(type='str'),
    dns=dict(type='list', elements='str', default=[]),
    mtu=dict(type='int'),
)
DISK_INJECT_OPTIONS = dict(
    image=dict(type='path', required=True),
    format=dict(type='str', choices=['raw', 'qcow2']),
    files=dict(type='list', elements='dict', default=[], options=FILE_OPTIONS),
    ssh_keys=dict(type='list', elements='dict', default=[], options=SSH_KEY_OPTIONS, no_log=False),
    admin_password=dict(type='str', no_log=True),
    admin_user=dict(type='str', default='root'),
    network=dict(type='dict', options=dict(
        interfaces=dict(type='list', elements='dict', required=True, options=INTERFACE_OPTIONS))),
    libguestfs_tcg=dict(type='raw', default='auto'),
    diff_content=dict(type='bool', default=False),
)


class _Wanted:
    """One file as it should be in the image."""

    def __init__(self, path, data, mode, uid, gid, kind, secret=False, parent_mode=0o755):
        self.path = path
        self.data = data if isinstance(data, bytes) else data.encode('utf-8')
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.kind = kind
        self.secret = secret
        self.parent_mode = parent_mode


class ImageInjector:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.image = self.params['image']
        self.g = None

    # -------------------------------------------------------------- reading

    def _read(self, path):
        g = self.g
        if not g.exists(path):
            return None
        if g.is_symlink(path):
            raise VirtopsError("'%s' in image '%s' is a symbolic link; name the file it points to instead."
                               % (path, self.image))
        if not g.is_file(path):
            raise VirtopsError("'%s' in image '%s' is not a regular file." % (path, self.image))
        if g.lstatns(path)['st_nlink'] > 1:
            # writing it would change every name of the file, some perhaps where the image's users must not write
            raise VirtopsError("'%s' in image '%s' has other hard links, so it is left as it is." % (path, self.image))
        return g.read_file(path)

    def _text(self, path, default=None):
        data = self._read(path)
        return default if data is None else data.decode('utf-8', 'replace')

    def _resolve(self, directory, within=None):
        """``directory`` inside the image with its symbolic links resolved, the way the guest would see it, as far
        as it exists. A link is followed only when root owns it (the image's own layout, e.g. /home -> var/home):
        a user's link (~/.ssh -> /root/.ssh) would make the module write, and chown to that user, files the user
        has no right to. With ``within``, the result must also stay inside that directory (resolved the same way)."""
        g = self.g
        resolved = '/'
        for part in [piece for piece in directory.split('/') if piece]:
            candidate = posixpath.join(resolved, part)
            if not g.exists(candidate) and not g.is_symlink(candidate):
                resolved = candidate    # missing from here on: made by _make_parents, nothing left to follow
                continue
            if g.is_symlink(candidate):
                owner = g.lstatns(candidate)['st_uid']
                if owner != 0:
                    raise VirtopsError("'%s' in image '%s' is a symbolic link owned by uid %d; disk_inject does not "
                                       "follow links a user of the image made." % (candidate, self.image, owner))
                candidate = g.realpath(candidate)
            resolved = candidate
        if within is not None:
            home = self._resolve(within)
            if resolved != home and not resolved.startswith(home.rstrip('/') + '/'):
                raise VirtopsError("'%s' in image '%s' leads to '%s', outside '%s'." % (directory, self.image,
                                                                                        resolved, within))
        return resolved

    def _owner_of(self, path, default=(0, 0, 0o644)):
        if not self.g.exists(path):
            return default
        stat = self.g.lstatns(path)
        return stat['st_uid'], stat['st_gid'], stat['st_mode'] & 0o7777

    # -------------------------------------------------------------- what is wanted

    def _wanted_files(self):
        passwd = self._text('/etc/passwd', '')
        group = self._text('/etc/group', '')
        wanted = []
        for item in self.params['files']:
            uid, gid = content.resolve_owner(item['owner'], passwd, group, item['path'])
            path = posixpath.join(self._resolve(posixpath.dirname(item['path'])), posixpath.basename(item['path']))
            wanted.append(_Wanted(path, item['content'], content.parse_mode(item['mode'], item['path']),
                                  uid, gid, 'file'))
        keys_by_user = {}
        for item in self.params['ssh_keys']:
            keys_by_user.setdefault(item['user'], []).extend(line for line in item['key'].splitlines() if line.strip())
        users = content.parse_colon_file(passwd)
        for user, keys in sorted(keys_by_user.items()):
            if user not in users:
                raise VirtopsError("ssh_keys: the user '%s' does not exist in image '%s'." % (user, self.image))
            uid, gid = content.account_ids(users, user, 'user', 'ssh_keys')
            home = users[user][5] if len(users[user]) > 5 else ''
            if not home.startswith('/') or posixpath.normpath(home) != home:
                raise VirtopsError("ssh_keys: the home directory of '%s' in image '%s' is not an absolute path."
                                   % (user, self.image))
            # the keys go into the user's own home, wherever links inside it point
            ssh_dir = self._resolve(posixpath.join(home, '.ssh'), within=home)
            path = posixpath.join(ssh_dir, 'authorized_keys')
            merged = content.merge_authorized_keys(self._text(path, ''), keys)
            wanted.append(_Wanted(path, merged, 0o600, uid, gid, 'ssh_keys', parent_mode=0o700))
        if self.params['admin_password'] is not None:
            shadow = self._text('/etc/shadow')
            if shadow is None:
                raise VirtopsError("image '%s' has no /etc/shadow to set the admin password in." % self.image)
            updated, _changed = content.update_shadow(shadow, self.params['admin_user'], self.params['admin_password'])
            uid, gid, mode = self._owner_of('/etc/shadow')
            wanted.append(_Wanted('/etc/shadow', updated, mode, uid, gid, 'admin_password', secret=True))
        if self.params['network']:
            wanted += self._wanted_network()
        return wanted

    def _wanted_network(self):
        g = self.g
        interfaces = content.normalize_interfaces(self.params['network'])
        has_ifupdown, has_netplan = g.is_dir('/etc/network'), g.is_dir('/etc/netplan')
        if not (has_ifupdown or has_netplan):
            raise VirtopsError("image '%s' has neither /etc/network (ifupdown) nor /etc/netplan to write the network "
                               "configuration to." % self.image)
        wanted = []
        if has_ifupdown:
            main = self._text('/etc/network/interfaces', '')
            clashes = content.conflicting_stanzas(main, interfaces)
            if clashes:
                raise VirtopsError("/etc/network/interfaces in image '%s' already configures %s; remove that stanza "
                                   "or leave the interface out of network." % (self.image, ', '.join(clashes)))
            uid, gid, mode = self._owner_of('/etc/network/interfaces')
            wanted.append(_Wanted('/etc/network/interfaces', content.ensure_interfaces_d_sourced(main), mode, uid, gid,
                                  'network'))
            wanted.append(_Wanted(content.IFUPDOWN_FILE, content.render_ifupdown(interfaces), 0o644, 0, 0, 'network'))
            resolvconf_tool = g.exists('/sbin/resolvconf') or g.exists('/usr/sbin/resolvconf')
            resolv = content.render_resolv_conf(interfaces)
            # without resolvconf, ifupdown ignores dns-nameservers; a symlink means a resolver daemon owns the file
            if resolv and not has_netplan and not resolvconf_tool and not g.is_symlink('/etc/resolv.conf'):
                uid, gid, mode = self._owner_of('/etc/resolv.conf')
                wanted.append(_Wanted('/etc/resolv.conf', resolv, mode, uid, gid, 'network'))
        if has_netplan:
            wanted.append(_Wanted(content.NETPLAN_FILE, content.render_netplan(interfaces), 0o600, 0, 0, 'network'))
        if g.is_dir('/etc/cloud/cloud.cfg.d'):
            # cloud-init would otherwise write its own DHCP fallback for the same interfaces on first boot
            wanted.append(_Wanted(content.CLOUD_INIT_NETWORK_FILE, content.CLOUD_INIT_NETWORK_OFF, 0o644, 0, 0,
                                  'network'))
        return wanted

    # -------------------------------------------------------------- comparing and writing

    def _difference(self, want):
        before = self._read(want.path)
        if before is None:
            return None, ['created']
        uid, gid, mode = self._owner_of(want.path)
        fields = []
        if before != want.data:
            fields.append('content')
        if mode != want.mode:
            fields.append('mode')
        if (uid, gid) != (want.uid, want.gid):
            fields.append('owner')
        return before, fields

    def _make_parents(self, want):
        missing = []
        parent = posixpath.dirname(want.path)
        while parent != '/' and not self.g.is_dir(parent):
            if self.g.exists(parent):
                raise VirtopsError("'%s' in image '%s' is not a directory." % (parent, self.image))
            missing.append(parent)
            parent = posixpath.dirname(parent)
        for directory in reversed(missing):
            self.g.mkdir(directory)
            self.g.chmod(want.parent_mode, directory)
            if want.parent_mode == 0o700:
                self.g.chown(want.uid, want.gid, directory)

    def _write(self, want):
        self._make_parents(want)
        self.g.write(want.path, want.data)
        self.g.chmod(want.mode, want.path)
        self.g.chown(want.uid, want.gid, want.path)

    def _diff_entry(self, want, before):
        """The file's before and after for --diff: its text only when diff_content asks for it (files often hold
        credentials, and the text before is the image's own), never the password hashes."""
        def show(data):
            if data is None:
                return ''
            if not self.params['diff_content']:
                return content.summarize(data)
            text = data.decode('utf-8', 'replace')
            return content.redact_shadow(text) if want.secret else text
        return dict(before_header=want.path, after_header=want.path, before=show(before), after=show(want.data))

    # -------------------------------------------------------------- the run

    def _check_params(self):
        if not is_local_uri(self.module.uri):
            raise VirtopsError("disk_inject: image '%s' can only be edited on the host running the module, and uri "
                               "'%s' is remote; run the task on the compute host." % (self.image, self.module.uri))
        for item in self.params['files']:
            path = item['path']
            if not path.startswith('/') or posixpath.normpath(path) != path or path == '/':
                raise VirtopsError("files: path '%s' is not an absolute, normalised file path inside the image." % path)
            content.parse_mode(item['mode'], path)
            content.parse_owner(item['owner'], path)
        if self.params['network']:
            content.normalize_interfaces(self.params['network'])
        if not guestfs_ops.HAS_GUESTFS:
            raise VirtopsError(guestfs_ops.MISSING_GUESTFS)
        if not os.path.isfile(self.image):
            raise VirtopsError("image '%s' does not exist on the host." % self.image)

    def _format(self):
        """The format to open the image with: what the definitions of the guests using it declare (their disk is
        theirs to write: its first bytes prove nothing), else the format option, else the image's own header (an
        image no guest uses), whose backing chain must then stay in the host's pools."""
        where = "disk_inject: image '%s'" % self.image
        users = guestfs_ops.domains_using(self.module.conn, self.image)
        declared = sorted(set(users.values()))
        given = self.params['format']
        if len(declared) > 1 or (declared and given and declared != [given]):
            raise VirtopsError("%s is declared %s by the guests using it (%s)%s, so it is not opened."
                               % (where, ' and '.join(declared), ', '.join(sorted(users)),
                                  ", not %s as format says" % given if given and given not in declared else ''))
        image_format = declared[0] if declared else given or guestfs_ops.format_in_header(self.image)
        chain.check_backing_chain(self.module.conn, self.image, image_format, where, local=True,
                                  require_pools=not (declared or given))
        return image_format

    def run(self):
        self._check_params()
        tcg = guestfs_ops.parse_tcg_setting(self.params['libguestfs_tcg'])
        guestfs_ops.refuse_if_in_use(self.module.conn, self.image)
        image_format = self._format()
        if tcg is None:
            tcg = not guestfs_ops.kvm_usable(self.module.conn, self.module.log)
        # the converge reads before it writes, so a run whose appliance stalled starts again on a fresh one
        return appliance_watch.retry_once_on_stall(lambda: self._run_on_appliance(image_format, tcg), self.module.log)

    def _run_on_appliance(self, image_format, tcg):
        try:
            with guestfs_ops.GuestImage(self.image, image_format, readonly=self.module.check_mode, tcg=tcg,
                                        log=self.module.log) as image:
                self.g = image.g
                image.mount_root()
                result = self._converge(image)
                result['libguestfs'] = dict(tcg=tcg, launch_seconds=image.launch_seconds)
                return result
        except RuntimeError as err:
            raise VirtopsError("libguestfs failed on image '%s': %s." % (self.image, guestfs_ops.first_line(err)))

    def _converge(self, image):
        changes, diffs, pending = [], [], []
        for want in self._wanted_files():
            before, fields = self._difference(want)
            if fields:
                changes.append(dict(path=want.path, kind=want.kind, changes=fields))
                diffs.append(self._diff_entry(want, before))
                pending.append(want)
        if pending and not self.module.check_mode:
            image.remount_writable()
            for want in pending:
                self._write(want)
            self.g.sync()
        result = dict(changed=bool(changes), image=self.image, format=image.image_format, changes=changes,
                      os=image.os_info)
        if self.module.diff_mode:
            result['diff'] = diffs
        return result


def run(module):
    return ImageInjector(module).run()
