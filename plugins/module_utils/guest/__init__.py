# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One guest (a libvirt domain): its spec, options, NICs, convergence, rescue, rebuild, one-shot actions, waits, storage and the facts guest_info reports."""
