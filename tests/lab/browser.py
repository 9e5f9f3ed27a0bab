"""Headless Chromium driven over the Chrome DevTools Protocol (websocket-client), for tests of web pages."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websocket

BINARIES = ('chromium-headless-shell', 'chromium')


def chromium():
    """The path of an installed Chromium, or None."""
    return next((shutil.which(name) for name in BINARIES if shutil.which(name)), None)


class Browser:
    """One headless Chromium with a fresh profile (so no setting of an earlier page carries over) and one page."""

    def __init__(self, width=1024, height=768):
        self.profile = tempfile.mkdtemp(prefix='virtops-chromium-')
        self.proc = subprocess.Popen(
            [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
             '--disable-background-networking', '--remote-debugging-port=0', '--remote-allow-origins=*',
             '--user-data-dir=' + self.profile, '--window-size=%d,%d' % (width, height), 'about:blank'],
            # its own process group: Debian's chromium-headless-shell is a shell script that runs the browser as a
            # child rather than exec'ing it, so only signalling the whole group stops the browser
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.ws = None
        self.next_id = 0
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    def _attach(self):
        # port 0: Chromium picks a free port and writes it into DevToolsActivePort
        port_file = os.path.join(self.profile, 'DevToolsActivePort')
        deadline = time.time() + 60
        while True:
            if os.path.exists(port_file):
                with open(port_file) as handle:
                    lines = handle.read().split()
                if len(lines) >= 2:
                    break
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError('chromium did not open its DevTools port (exit code %s)' % self.proc.poll())
            time.sleep(0.2)
        with urllib.request.urlopen('http://127.0.0.1:%s/json/list' % lines[0], timeout=10) as reply:
            page = next(p for p in json.load(reply) if p['type'] == 'page')
        self.ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=60, suppress_origin=True)

    def call(self, method, **params):
        """Send one DevTools command and return its result (events arriving meanwhile are dropped)."""
        self.next_id += 1
        self.ws.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get('id') == self.next_id:
                if 'error' in reply:
                    raise AssertionError('%s failed: %s' % (method, reply['error']))
                return reply['result']

    def js(self, expression):
        """Evaluate ``expression`` in the page (promises awaited); returns its value."""
        result = self.call('Runtime.evaluate', expression=expression, awaitPromise=True, returnByValue=True)
        if 'exceptionDetails' in result:
            raise AssertionError('javascript failed: %s' % result['exceptionDetails'])
        return result['result'].get('value')

    def wait_for(self, expression, timeout=30):
        """Poll ``expression`` until it is truthy; returns its value, or raises with its last value."""
        deadline = time.time() + timeout
        while True:
            value = self.js(expression)
            if value or time.time() > deadline:
                if not value:
                    raise AssertionError('%s stayed falsy for %ss' % (expression, timeout))
                return value
            time.sleep(0.25)

    def close(self):
        try:
            if self.ws is not None:
                self.ws.close()
        finally:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            # the wrapper may be gone before the browser and its helpers: whatever is left of the group is killed
            self._signal(signal.SIGKILL)
            self.proc.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)

    def _signal(self, number):
        try:
            os.killpg(self.proc.pid, number)
        except ProcessLookupError:
            pass
