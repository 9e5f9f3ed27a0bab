# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config drives: the OpenStack config-drive layout, its network data, ISO 9660 and vfat images, reading a drive back, drives kept in pools."""
