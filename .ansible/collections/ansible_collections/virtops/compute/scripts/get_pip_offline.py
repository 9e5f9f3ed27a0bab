"""Stand-in for the pip bootstrap script ansible-test downloads from its own file server.

This machine reaches only the package registries, so ``make setup`` puts this file
where ansible-test caches that script.  It installs pip from the wheel Python ships
(ensurepip) and then asks that pip for the release ansible-test wants; when the
index cannot serve it, the bundled pip stays, which ansible-test works with.
"""
import ensurepip
import os
import subprocess
import sys

# get-pip's own switches, which pip itself does not know or which this machine's index proxy trips on.
DROPPED = ('--no-setuptools', '--no-wheel', '--disable-pip-version-check')

ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in DROPPED]
env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_RETRIES='0')
if subprocess.call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args, env=env) != 0:
    print('get_pip_offline: keeping the pip bundled with Python')
