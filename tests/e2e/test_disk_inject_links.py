"""disk_inject in an image whose users laid traps: links and hard links in places the module writes to.

The image is a small Debian-like ext4 file system: root with its own authorized_keys, a user alice (uid 1000)
whose ~/.ssh is her own symbolic link to /root/.ssh and who keeps a hard link to /etc/shadow in her home, and a
user bob whose home sits under /home, a link root made to var/home (the layout of image-based distributions).
Adding alice's key or a file in her home must not rewrite root's keys (nor chown them to her), nor /etc/shadow;
bob's key lands in his real home, owned by him (the positive control).
"""
import hashlib
import os
import shutil
import subprocess

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.disk_image import guestfs as guestfs_ops
from lab import tally
from lab.checks import assert_one_sentence
from lab.proc import LAB_ROOT
from lab.runner import run_module

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not guestfs_ops.HAS_GUESTFS, reason='libguestfs is not installed')]

ROOT_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJvb3Qtb25seS1rZXktMDAwMDAwMDAwMDAwMDAw root@image'
ALICE_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGFsaWNlLWtleS0wMDAwMDAwMDAwMDAwMDAwMDAw alice@laptop'
BOB_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJvYi1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDAw bob@laptop'


def _write(root, path, text, mode=0o644, owner=(0, 0)):
    full = os.path.join(root, path.lstrip('/'))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as handle:
        handle.write(text)
    os.chmod(full, mode)
    os.chown(full, *owner)


@pytest.fixture(scope='module')
def image(lab_session):
    work = os.path.join(LAB_ROOT, 'inject-links')
    shutil.rmtree(work, ignore_errors=True)
    tree = os.path.join(work, 'tree')
    os.makedirs(tree)
    _write(tree, '/etc/os-release', 'ID=lab\nPRETTY_NAME="lab image with traps"\n')
    _write(tree, '/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n'
                                'bob:x:1001:1001::/home/bob:/bin/sh\n')
    _write(tree, '/etc/group', 'root:x:0:\nalice:x:1000:\nbob:x:1001:\n')
    _write(tree, '/etc/shadow', 'root:*:19000:0:99999:7:::\nalice:*:19000:0:99999:7:::\n', mode=0o600)
    _write(tree, '/root/.ssh/authorized_keys', ROOT_KEY + '\n', mode=0o600)
    os.chmod(os.path.join(tree, 'root'), 0o700)
    os.chmod(os.path.join(tree, 'root', '.ssh'), 0o700)
    os.makedirs(os.path.join(tree, 'var', 'home', 'alice'))
    os.makedirs(os.path.join(tree, 'var', 'home', 'bob'))
    os.chown(os.path.join(tree, 'var', 'home', 'alice'), 1000, 1000)
    os.chown(os.path.join(tree, 'var', 'home', 'bob'), 1001, 1001)
    os.symlink('var/home', os.path.join(tree, 'home'))                 # root's layout: followed
    alice_ssh = os.path.join(tree, 'var', 'home', 'alice', '.ssh')
    os.symlink('/root/.ssh', alice_ssh)                                 # alice's trap: refused
    os.lchown(alice_ssh, 1000, 1000)
    os.link(os.path.join(tree, 'etc', 'shadow'), os.path.join(tree, 'var', 'home', 'alice', 'notes'))
    path = os.path.join(work, 'traps.raw')
    subprocess.run(['truncate', '-s', '32M', path], check=True)
    subprocess.run(['mkfs.ext4', '-q', '-F', '-b', '4096', '-d', tree, path], check=True)
    shutil.rmtree(tree)
    yield path
    shutil.rmtree(work, ignore_errors=True)


def _debugfs(image, request):
    return subprocess.run(['debugfs', '-R', request, image], capture_output=True, text=True, check=True).stdout


def _owner(image, path):
    stat = _debugfs(image, 'stat %s' % path)
    return [line for line in stat.splitlines() if line.startswith('User:')][0].split()[1]


def _digest(image):
    with open(image, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_the_traps_are_in_place(image):
    assert '/root/.ssh' in _debugfs(image, 'stat /var/home/alice/.ssh')
    assert _owner(image, '/var/home/alice/.ssh') == '1000'
    assert 'Links: 2' in _debugfs(image, 'stat /etc/shadow')


@pytest.mark.parametrize('params, words', [
    (dict(ssh_keys=[dict(user='alice', key=ALICE_KEY)]), ['/var/home/alice/.ssh', 'symbolic link owned by uid 1000']),
    (dict(files=[dict(path='/home/alice/.ssh/authorized_keys', content=ALICE_KEY + '\n', owner='alice')]),
     ['/var/home/alice/.ssh', 'symbolic link owned by uid 1000']),
    (dict(files=[dict(path='/home/alice/notes', content='alice::0:0:::::\n', owner='alice')]),
     ['/var/home/alice/notes', 'other hard links']),
], ids=['ssh key through a user link', 'file through a user link', 'file with a hard link to /etc/shadow'])
def test_a_users_link_is_never_followed(image, params, words):
    before = _digest(image)
    result = run_module('disk_inject', image=image, libguestfs_tcg=True, **params)
    assert result.failed, result.data
    assert_one_sentence(result.msg, *words)
    assert _digest(image) == before, 'the image changed'
    assert _debugfs(image, 'cat /root/.ssh/authorized_keys').strip() == ROOT_KEY
    assert _owner(image, '/root/.ssh/authorized_keys') == '0' and _owner(image, '/etc/shadow') == '0'
    tally.case('bad inputs tried', 'disk_inject through a link: %s' % ', '.join(words))


def test_roots_own_links_are_followed_into_the_users_home(image):
    result = run_module('disk_inject', image=image, libguestfs_tcg=True,
                        ssh_keys=[dict(user='bob', key=BOB_KEY)])
    assert not result.failed, result.msg
    assert result['changes'] == [dict(path='/var/home/bob/.ssh/authorized_keys', kind='ssh_keys', changes=['created'])]
    assert _debugfs(image, 'cat /var/home/bob/.ssh/authorized_keys').strip() == BOB_KEY
    assert _owner(image, '/var/home/bob/.ssh/authorized_keys') == '1001' and _owner(image, '/var/home/bob/.ssh') == '1001'
    assert _debugfs(image, 'cat /root/.ssh/authorized_keys').strip() == ROOT_KEY
