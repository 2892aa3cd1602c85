/*
 * generic-fuzz configurations for the dmalab PCI DMA engine
 *
 * Included into predefined_configs[] of tests/qtest/fuzz/
 * generic_fuzz_configs.h.  The fuzzer drives the device's BARs, its MSI-X
 * table and its configuration space, and serves every DMA read from its
 * own input, so descriptors, SG tables and rings are fuzzed too.
 *
 *   qemu-fuzz-x86_64 --fuzz-target=generic-fuzz-dmalab
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

    {
        .name = "dmalab",
        .args = "-machine q35 -nodefaults -device dmalab,queues=4",
        .objects = "dmalab* msix-table msix-pba",
    }, {
        .name = "dmalab-intx",
        .args = "-machine pc -nodefaults "
                "-device dmalab,queues=2,msix=off,msi=off,devmem-size=4096",
        .objects = "dmalab*",
    },
