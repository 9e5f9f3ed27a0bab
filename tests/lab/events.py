"""A domain's libvirt lifecycle events (started, suspended, resumed, stopped...) and reboots, as libvirt sends them.

libvirt tells every listener when it pauses or resumes a guest, whoever asked for it, so "the guest was never
paused" is read from these events rather than guessed from timing. Events reach a connection only through an event
loop registered before that connection is opened: LifecycleEvents opens its own, and one loop thread runs for the
whole test session.
"""
import threading
import time

_LOOP = []


def _libvirt():
    import libvirt     # imported late: the lab's command line need not run inside the venv
    return libvirt


def _ensure_loop():
    if _LOOP:
        return
    libvirt = _libvirt()
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()
    thread = threading.Thread(target=run, name='libvirt-events', daemon=True)
    thread.start()
    _LOOP.append(thread)


class _DomainEvents:
    """Listens, from now on, to one kind of event (``event_id``) of the domain ``name`` at ``uri``; ``_seen`` gets
    each event's own arguments (those between the domain and the opaque value)."""

    def __init__(self, uri, name, event_id):
        libvirt = _libvirt()
        _ensure_loop()
        self.name = name
        self._lock = threading.Lock()
        self.conn = libvirt.open(uri)
        self._callback = self.conn.domainEventRegisterAny(self.conn.lookupByName(name), event_id,
                                                          lambda _conn, _dom, *args: self._seen(*args[:-1]), None)

    def _seen(self, *args):
        raise NotImplementedError

    def close(self):
        try:
            self.conn.domainEventDeregisterAny(self._callback)
        finally:
            self.conn.close()


class LifecycleEvents(_DomainEvents):
    """The lifecycle events of the domain ``name`` at ``uri`` from now on: [(host monotonic time, event, detail)]."""

    def __init__(self, uri, name):
        self.events = []
        super().__init__(uri, name, _libvirt().VIR_DOMAIN_EVENT_ID_LIFECYCLE)

    def _seen(self, event, detail):
        with self._lock:
            self.events.append((time.monotonic(), event, detail))

    def between(self, start, end, event=None):
        """Events from ``start`` to ``end`` (host monotonic seconds), of one kind when ``event`` is given."""
        with self._lock:
            return [e for e in self.events if start <= e[0] <= end and (event is None or e[1] == event)]

    def wait_for(self, event, since, timeout=60):
        """Until an ``event`` arrived after ``since``; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.between(since, float('inf'), event)
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError('libvirt sent no lifecycle event %d for %s within %d s (seen: %s)'
                             % (event, self.name, timeout, self.events))


class RebootEvents(_DomainEvents):
    """When the domain ``name`` at ``uri`` was rebooted or reset from now on (host monotonic times): libvirt's
    reboot event, sent for a reset whoever asked for it."""

    def __init__(self, uri, name):
        self.times = []
        super().__init__(uri, name, _libvirt().VIR_DOMAIN_EVENT_ID_REBOOT)

    def _seen(self):
        with self._lock:
            self.times.append(time.monotonic())

    def since(self, start):
        with self._lock:
            return [t for t in self.times if t >= start]

    def wait_since(self, start, timeout=60):
        """Until a reboot after ``start``; returns its time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.since(start)
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError('libvirt sent no reboot event for %s within %d s' % (self.name, timeout))
