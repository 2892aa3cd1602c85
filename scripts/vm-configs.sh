# The VM configurations that ./run-vm.sh check boots, each selectable by
# name with --only NAME (sourced by run-vm.sh).
#
# vm_config NAME sets:
#   VM_MACHINE     -M value
#   VM_MEM         -m value
#   VM_APPEND      extra kernel command line
#   VM_QEMU_ARGS   extra QEMU arguments (the dmalab devices among them)
#   VM_MODPARAMS   module parameters for the driver, comma-separated
#   VM_SMP         guest CPUs
#   VM_TIMEOUT     seconds the boot may take under TCG

DMALAB_CONFIGS=(default pc-intx msi iommu swiotlb dma32 two-devices throttled polling)
DEFAULT_TIMEOUT=300
SHELL_TIMEOUT=28800

vm_config_exists() {
    local c
    for c in "${DMALAB_CONFIGS[@]}"; do
        [ "$c" = "$1" ] && return 0
    done
    return 1
}

vm_config() {
    VM_MACHINE=q35
    VM_MEM=1G
    VM_APPEND=""
    VM_MODPARAMS=""
    VM_SMP=2
    VM_TIMEOUT=$DEFAULT_TIMEOUT
    VM_QEMU_ARGS=()
    case "$1" in
    default)
        # q35, PCIe, MSI-X: one vector per queue plus one for errors.  The
        # device sits behind a root port, so it can be hot-unplugged.
        VM_QEMU_ARGS=(-device pcie-root-port,id=rp0,chassis=1
                      -device dmalab,id=dmalab0,bus=rp0)
        ;;
    pc-intx)
        # i440FX: conventional PCI, and only the legacy INTx line.
        VM_MACHINE=pc
        VM_QEMU_ARGS=(-device dmalab,msix=off,msi=off)
        ;;
    msi)
        # A single MSI vector shared by every queue and the error cause,
        # with interrupts coalesced: one per 8 completions or 200 us.
        VM_MODPARAMS="coal_count=8,coal_usec=200"
        VM_QEMU_ARGS=(-device dmalab,msix=off)
        ;;
    iommu)
        # DMA remapped by a strict Intel IOMMU: bus addresses are IOVAs,
        # and every unmap is flushed at once.
        VM_MACHINE=q35,kernel-irqchip=split
        VM_APPEND="intel_iommu=on iommu.strict=1"
        VM_QEMU_ARGS=(-device intel-iommu,intremap=on -device dmalab)
        ;;
    swiotlb)
        # Every streaming mapping goes through a bounce buffer.  The
        # driver's read/write copy through its own reused streaming buffer
        # (use_bounce=1), so the tests' pread/pwrite are right only if the
        # driver syncs it (dma_sync_single_for_device/_for_cpu) each use.
        VM_APPEND="swiotlb=force"
        VM_MODPARAMS="use_bounce=1"
        VM_QEMU_ARGS=(-device dmalab)
        ;;
    dma32)
        # A device that reaches only the low 4 GiB of a 6 GiB guest.
        VM_MEM=6G
        VM_QEMU_ARGS=(-device dmalab,dma-bits=32)
        ;;
    two-devices)
        VM_QEMU_ARGS=(-device pcie-root-port,id=rp0,chassis=1
                      -device dmalab,id=dmalab0,bus=rp0,queues=2
                      -device pcie-root-port,id=rp1,chassis=2
                      -device dmalab,id=dmalab1,bus=rp1,queues=8)
        ;;
    polling)
        # The driver reaps completions from a timer instead of interrupts.
        VM_MODPARAMS="poll_us=200"
        VM_QEMU_ARGS=(-device dmalab)
        ;;
    throttled)
        # Slow hardware: 50 MB/s and 20 us per descriptor, virtual time.
        VM_QEMU_ARGS=(-device dmalab,bandwidth=50000000,latency=20000)
        ;;
    *)
        echo "vm-configs: unknown configuration '$1'" >&2
        return 1
        ;;
    esac
}

# The QEMUs whose qtests and style `./run-vm.sh check` runs (stable, 10.0,
# works too, with --qemu stable: its build would take the check past the
# time CI gives it).
CHECK_QEMUS=(debian latest)

# The kernels `./run-vm.sh check` boots, on which QEMU, and the
# configurations each runs: "qemu:kernel:[debug]:configuration...".
# Debian's kernel runs the whole matrix, the 6.12 LTS kernel the common
# paths.  The newest kernel is built once, with kernel/debug.config
# (DMA-API debug, KASAN, lockdep, kmemleak, fault injection): it serves as
# both the newest release and the debug tier, where every program runs,
# dmalab_failnth among them.  Its default and iommu boots run on the
# newest QEMU: the newest stack, end to end.
CHECK_TIERS=(
    "debian:debian::${DMALAB_CONFIGS[*]}"
    "debian:lts::default iommu swiotlb msi"
    "latest:latest:debug:default iommu"
    "debian:latest:debug:swiotlb dma32 msi"
)
# A debug kernel's boots may take this many times their usual limit.
DEBUG_TIMEOUT_FACTOR=4
