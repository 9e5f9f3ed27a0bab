# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small FAT16 writer (and reader) for config drives, with long file names, in pure Python.

Nova makes a vfat config drive with mkfs.vfat and mtools; this writes the same kind of
file system directly, so the compute host needs no extra packages and the result is
byte-for-byte reproducible: every timestamp is one constant, entries are sorted, the
volume serial number is derived from the contents.

Layout: 512-byte sectors, one reserved (boot) sector, two FATs, a fixed root
directory, then the data clusters.  The cluster count is kept inside FAT16's range
(4085..65524) whatever the contents, growing the cluster size for large drives.
"""


import hashlib
import struct

SECTOR = 512
ENTRY = 32
MIN_CLUSTERS = 4200    # FAT16 starts at 4085 clusters; keep clear of the boundary drivers disagree on
MAX_CLUSTERS = 65524
ROOT_ENTRIES = 512
FAT_EOC = 0xFFFF
ATTR_DIRECTORY = 0x10
ATTR_VOLUME = 0x08
ATTR_LFN = 0x0F
# 2000-01-01 00:00:00 in FAT's date and time encoding
FIXED_DATE = ((2000 - 1980) << 9) | (1 << 5) | 1
FIXED_TIME = 0
_SHORT_OK = set('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-$%\'@~`!(){}^#&')


def _nested(files):
    root = {}
    for path, content in files.items():
        parts = path.strip('/').split('/')
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = content
    return root


def _short_names(names):
    """{long name: 11-byte 8.3 name}; every name gets a ~N short name so that its long name carries the case."""
    taken, result = set(), {}
    for name in sorted(names):
        stem, _dot, ext = name.upper().rpartition('.') if '.' in name.strip('.') else (name.upper(), '', '')
        stem = ''.join(char if char in _SHORT_OK else '_' for char in stem)[:6] or '_'
        ext = ''.join(char if char in _SHORT_OK else '_' for char in ext)[:3]
        number = 1
        while True:
            tail = '~%d' % number
            short = (stem[:8 - len(tail)] + tail).ljust(8) + ext.ljust(3)
            if short not in taken:
                break
            number += 1
        taken.add(short)
        result[name] = short.encode('ascii')
    return result


def _checksum(short):
    total = 0
    for byte in short:
        total = (((total & 1) << 7) + (total >> 1) + byte) & 0xFF
    return total


def _lfn_entries(name, short):
    units = name.encode('utf-16-le')
    chars = [units[i:i + 2] for i in range(0, len(units), 2)]
    count = (len(chars) + 12) // 13
    if len(chars) % 13:
        chars.append(b'\x00\x00')
    chars += [b'\xff\xff'] * (count * 13 - len(chars))
    checksum = _checksum(short)
    entries = []
    for seq in range(count, 0, -1):
        part = chars[(seq - 1) * 13:seq * 13]
        order = seq | (0x40 if seq == count else 0)
        entries.append(struct.pack('<B10sBBB12sH4s', order, b''.join(part[:5]), ATTR_LFN, 0, checksum,
                                   b''.join(part[5:11]), 0, b''.join(part[11:13])))
    return entries


def _dir_entry(short, attr, cluster, size):
    return struct.pack('<11sBBBHHHHHHHI', short, attr, 0, 0, FIXED_TIME, FIXED_DATE, FIXED_DATE, 0,
                       FIXED_TIME, FIXED_DATE, cluster, size)


class _Plan:
    """Which clusters each directory and file takes, decided before anything is written."""

    def __init__(self, root, cluster_bytes):
        self.cluster_bytes = cluster_bytes
        self.next_cluster = 2
        self.items = []         # (node or bytes, first cluster, cluster count)
        self.directories = {}   # id(node) -> (first cluster, short names)
        self._plan_dir(root, is_root=True)

    def _take(self, size):
        count = (size + self.cluster_bytes - 1) // self.cluster_bytes
        first = self.next_cluster if count else 0
        self.next_cluster += count
        return first, count

    def _plan_dir(self, node, is_root=False):
        shorts = _short_names(list(node))
        if not is_root:
            entries = 2 + sum(1 + len(_lfn_entries(name, shorts[name])) for name in node)
            first, count = self._take(entries * ENTRY)
            self.items.append((node, first, count))
        else:
            first = 0
        self.directories[id(node)] = (first, shorts)
        for name in sorted(node):
            child = node[name]
            if isinstance(child, dict):
                self._plan_dir(child)
            else:
                first, count = self._take(len(child))
                self.items.append((child, first, count))
                self.directories[('file', id(node), name)] = first

    @property
    def clusters_used(self):
        return self.next_cluster - 2


def _dir_bytes(plan, node, parent_cluster, is_root, label):
    first, shorts = plan.directories[id(node)]
    out = []
    if is_root:
        out.append(_dir_entry(label, ATTR_VOLUME, 0, 0))
    else:
        out.append(_dir_entry(b'.          ', ATTR_DIRECTORY, first, 0))
        out.append(_dir_entry(b'..         ', ATTR_DIRECTORY, parent_cluster, 0))
    children = []
    for name in sorted(node):
        child = node[name]
        short = shorts[name]
        out.extend(_lfn_entries(name, short))
        if isinstance(child, dict):
            out.append(_dir_entry(short, ATTR_DIRECTORY, plan.directories[id(child)][0], 0))
            children.append(child)
        else:
            out.append(_dir_entry(short, 0, plan.directories[('file', id(node), name)], len(child)))
    return b''.join(out), children


def build(files, label='config-2'):
    """The bytes of a FAT16 file system holding ``files`` ({'dir/name': bytes}) with volume ``label``."""
    root = _nested(files)
    label_bytes = label.encode('ascii')[:11].ljust(11)
    if len(_short_names(list(root))) * 3 + 1 > ROOT_ENTRIES:
        raise ValueError('too many entries for the root directory')
    sectors_per_cluster = 1
    while True:
        plan = _Plan(root, sectors_per_cluster * SECTOR)
        clusters = max(plan.clusters_used + 16, MIN_CLUSTERS)
        if clusters <= MAX_CLUSTERS:
            break
        if sectors_per_cluster == 64:
            raise ValueError('the contents do not fit a FAT16 file system')
        sectors_per_cluster *= 2
    fat_sectors = ((clusters + 2) * 2 + SECTOR - 1) // SECTOR
    root_sectors = ROOT_ENTRIES * ENTRY // SECTOR
    data_start = 1 + 2 * fat_sectors + root_sectors
    total_sectors = data_start + clusters * sectors_per_cluster
    serial = struct.unpack('<I', hashlib.sha256(b''.join(
        path.encode() + b'\0' + files[path] for path in sorted(files))).digest()[:4])[0]
    boot = struct.pack('<3s8sHBHBHHBHHHII', b'\xeb\x3c\x90', b'VIRTOPS ', SECTOR, sectors_per_cluster, 1, 2,
                       ROOT_ENTRIES, total_sectors if total_sectors < 0x10000 else 0, 0xF8, fat_sectors, 32, 64, 0,
                       total_sectors if total_sectors >= 0x10000 else 0)
    boot += struct.pack('<BBBI11s8s', 0x80, 0, 0x29, serial, label_bytes, b'FAT16   ')
    boot = boot.ljust(510, b'\0') + b'\x55\xaa'

    image = bytearray(total_sectors * SECTOR)
    image[0:SECTOR] = boot
    fat = [0] * (clusters + 2)
    fat[0], fat[1] = 0xFFF8, 0xFFFF
    cluster_bytes = sectors_per_cluster * SECTOR

    def place(data, first, count):
        for index in range(count):
            fat[first + index] = first + index + 1 if index + 1 < count else FAT_EOC
        offset = (data_start + (first - 2) * sectors_per_cluster) * SECTOR
        image[offset:offset + len(data)] = data
        if len(data) > count * cluster_bytes:
            raise ValueError('vfat writer: %d bytes do not fit in %d clusters' % (len(data), count))

    pending = [(root, 0, True)]
    while pending:
        node, parent_cluster, is_root = pending.pop(0)
        data, children = _dir_bytes(plan, node, parent_cluster, is_root, label_bytes)
        if is_root:
            offset = (1 + 2 * fat_sectors) * SECTOR
            image[offset:offset + len(data)] = data
        else:
            first = plan.directories[id(node)][0]
            place(data, first, (len(data) + cluster_bytes - 1) // cluster_bytes)
        own = 0 if is_root else plan.directories[id(node)][0]
        pending.extend((child, own, False) for child in children)
    for item, first, count in plan.items:
        if not isinstance(item, dict) and count:
            place(item, first, count)
    fat_bytes = struct.pack('<%dH' % len(fat), *fat)
    for copy in range(2):
        offset = (1 + copy * fat_sectors) * SECTOR
        image[offset:offset + len(fat_bytes)] = fat_bytes
    return bytes(image)


def read(image):
    """({'dir/name': bytes}, label) of a FAT16 image such as ``build`` writes; long names preferred."""
    (per_sector, per_cluster, reserved, fats, root_entries, total16, _media, fat_sectors) = struct.unpack_from(
        '<HBHBHHBH', image, 11)
    label = image[43:54].decode('ascii', 'replace').rstrip()
    fat_offset = reserved * per_sector
    root_offset = (reserved + fats * fat_sectors) * per_sector
    data_offset = root_offset + root_entries * ENTRY
    cluster_bytes = per_cluster * per_sector

    def chain(first):
        cluster, seen = first, []
        while 2 <= cluster < 0xFFF8 and len(seen) < len(image) // cluster_bytes:
            seen.append(cluster)
            cluster = struct.unpack_from('<H', image, fat_offset + cluster * 2)[0]
        return b''.join(image[data_offset + (c - 2) * cluster_bytes:data_offset + (c - 1) * cluster_bytes]
                        for c in seen)

    files = {}

    def walk(raw, prefix):
        long_parts = []
        for offset in range(0, len(raw) - ENTRY + 1, ENTRY):
            entry = raw[offset:offset + ENTRY]
            if entry[0] == 0:
                break
            if entry[0] == 0xE5:
                long_parts = []
                continue
            if entry[11] == ATTR_LFN:
                piece = entry[1:11] + entry[14:26] + entry[28:32]
                long_parts.insert(0, piece.decode('utf-16-le').split('\x00')[0])
                continue
            attr, first, size = entry[11], struct.unpack_from('<H', entry, 26)[0], struct.unpack_from('<I', entry, 28)[0]
            short = entry[0:8].decode('ascii', 'replace').rstrip()
            ext = entry[8:11].decode('ascii', 'replace').rstrip()
            name = ''.join(long_parts) or (short + ('.' + ext if ext else ''))
            long_parts = []
            if attr & ATTR_VOLUME or name in ('.', '..'):
                continue
            if attr & ATTR_DIRECTORY:
                walk(chain(first), prefix + name + '/')
            else:
                files[prefix + name] = bytes(chain(first)[:size]) if size else b''

    walk(image[root_offset:data_offset], '')
    return files, label
