"""set_password on a full Debian guest: the hash in /etc/shadow changes and matches the new password."""
import base64
import time
import warnings

from lab.runner import run_module

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt  # the host's libcrypt knows Debian's yescrypt hashes


def _shadow_hash(guest, user):
    """The user's hash, read inside the guest through the agent (guest-exec of getent)."""
    started = guest.agent('guest-exec', {'path': '/usr/bin/getent', 'arg': ['shadow', user], 'capture-output': True})
    deadline = time.time() + 30
    while time.time() < deadline:
        status = guest.agent('guest-exec-status', {'pid': started['pid']})
        if status.get('exited'):
            line = base64.b64decode(status.get('out-data', '')).decode()
            return line.split(':')[1]
        time.sleep(0.5)
    raise AssertionError('getent shadow %s did not finish in the guest' % user)


def test_set_password_changes_the_shadow_hash(full_guest):
    full_guest.wait_for_agent(timeout=300)
    before = _shadow_hash(full_guest, 'root')
    password = 'Full-guest-N3w'
    result = run_module('guest_action', name=full_guest.name, action='set_password', user='root', password=password)
    assert not result.failed, result.msg
    assert result.changed and password not in repr(result.data)
    after = _shadow_hash(full_guest, 'root')
    assert after != before and after.startswith('$'), (before, after)
    assert crypt.crypt(password, after) == after, 'the new hash is not the hash of the password that was set'
