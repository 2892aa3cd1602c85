/*
 * dmalab qtests: what differs between the QEMU versions they build in
 *
 * The qtests are written for QEMU master; this maps master's headers onto
 * older versions (Debian 12's 7.2 is the oldest), so that no version test
 * appears in the tests themselves.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef DMALAB_QTEST_COMPAT_H
#define DMALAB_QTEST_COMPAT_H

/* 10.0 moved the QObject types from qapi/qmp/ to qobject/. */
#if QEMU_VERSION_MAJOR < 10
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"
#else
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#endif

#endif
