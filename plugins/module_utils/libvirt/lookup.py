# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Looking libvirt objects up, the one way the collection does it.

Each ``find_*`` returns the object, or None when libvirt says there is no such object.  Every
other error (the connection is gone, permission denied, a driver failure) is raised: treating
those as "not found" would make a module create a second pool, redefine a guest, or report a
guest as absent while libvirtd was merely restarting.
"""

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt


def _not_found_codes(*names):
    return tuple(getattr(libvirt, name) for name in names if libvirt is not None and hasattr(libvirt, name))


def _find(call, *not_found):
    codes = _not_found_codes(*not_found)
    try:
        return call()
    except libvirt.libvirtError as err:
        if err.get_error_code() in codes:
            return None
        raise


def find_domain(conn, name):
    """The virDomain called ``name``, or None."""
    return _find(lambda: conn.lookupByName(name), 'VIR_ERR_NO_DOMAIN')


def find_domain_by_uuid(conn, uuid):
    """The virDomain with this UUID (a string), or None."""
    return _find(lambda: conn.lookupByUUIDString(uuid), 'VIR_ERR_NO_DOMAIN')


def find_pool(conn, name):
    """The virStoragePool called ``name``, or None."""
    return _find(lambda: conn.storagePoolLookupByName(name), 'VIR_ERR_NO_STORAGE_POOL')


def find_volume(pool, name):
    """The volume called ``name`` in ``pool``, or None."""
    return _find(lambda: pool.storageVolLookupByName(name), 'VIR_ERR_NO_STORAGE_VOL')


def find_volume_by_path(conn, path):
    """The volume at ``path`` in any pool, or None (also when no pool holds that path)."""
    return _find(lambda: conn.storageVolLookupByPath(path), 'VIR_ERR_NO_STORAGE_VOL', 'VIR_ERR_NO_STORAGE_POOL')


def find_network(conn, name):
    """The virNetwork called ``name``, or None."""
    return _find(lambda: conn.networkLookupByName(name), 'VIR_ERR_NO_NETWORK')


def find_nwfilter(conn, name):
    """The virNWFilter called ``name``, or None."""
    return _find(lambda: conn.nwfilterLookupByName(name), 'VIR_ERR_NO_NWFILTER')


def find_secret(conn, usage_type, usage_id):
    """The virSecret with this usage (a VIR_SECRET_USAGE_TYPE_* number and its id), or None."""
    return _find(lambda: conn.secretLookupByUsage(usage_type, usage_id), 'VIR_ERR_NO_SECRET')


def vanished(err):
    """True when a libvirtError says the object is gone: removed by someone else while it was being read."""
    codes = _not_found_codes('VIR_ERR_NO_DOMAIN', 'VIR_ERR_NO_NETWORK', 'VIR_ERR_NO_STORAGE_POOL',
                             'VIR_ERR_NO_STORAGE_VOL', 'VIR_ERR_NO_NWFILTER', 'VIR_ERR_NO_SECRET')
    return err.get_error_code() in codes
