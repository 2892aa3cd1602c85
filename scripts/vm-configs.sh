# The VM configurations that ./run-vm.sh check boots, each selectable by
# name with --only NAME (sourced by run-vm.sh).  Each guest architecture
# has its own: the configuration names the same idea on each where it can
# (default, iommu, swiotlb), and vm_config reads $ARCH.
#
# vm_config NAME sets:
#   VM_MACHINE     -M value
#   VM_CPU         -cpu value (empty: the machine's default)
#   VM_MEM         -m value
#   VM_APPEND      extra kernel command line
#   VM_QEMU_ARGS   extra QEMU arguments (the dmalab devices among them)
#   VM_MODPARAMS   module parameters for the driver, comma-separated
#   VM_EXPECT_IRQ, VM_EXPECT_DMA_OPS, VM_EXPECT_DOORBELL, VM_EXPECT_SHADOW
#                  what the driver must choose here (dmalab_ops checks it):
#                  interrupt mode (msix, msi, intx), layer under the DMA
#                  API (direct, iommu, swiotlb), doorbell path (mmio, port),
#                  shadow tails in memory (on, off)
#   VM_EXPECT_MORE more KEY:VALUE pairs for the tests, comma-separated
#   VM_SMP         guest CPUs
#   VM_TIMEOUT     seconds the boot may take under TCG
#   VM_CONSOLE     the kernel's console (the first serial port)
#   VM_RESULTS_PORT  QEMU options that give the guest a second port for its
#                  TAP results, written to @FILE@
#   VM_RESULTS_TTY that port in the guest, if not /dev/ttyS1

DMALAB_CONFIGS=(default pc-intx msi iommu swiotlb dma32 two-devices throttled polling portio isa)
# The configurations a kernel without the ISA bus API (Debian's 6.1) can
# boot: all but isa, whose driver, dmalab_isa.ko, needs that API.
DMALAB_CONFIGS_NO_ISA=()
for _config in "${DMALAB_CONFIGS[@]}"; do
    [ "$_config" = isa ] || DMALAB_CONFIGS_NO_ISA+=("$_config")
done
unset _config
# arm64: QEMU's virt machine, a GICv3 whose ITS takes MSI and MSI-X, a
# generic PCIe host bridge (gpex), and SMMUv3 as the IOMMU.
DMALAB_CONFIGS_AARCH64=(default intx iommu swiotlb)
GUEST_ARCHES=(x86_64 aarch64)
DEFAULT_TIMEOUT=300
SHELL_TIMEOUT=28800

# The configurations of architecture $1, one per line.
arch_configs() {
    case "$1" in
    aarch64) printf '%s\n' "${DMALAB_CONFIGS_AARCH64[@]}" ;;
    *) printf '%s\n' "${DMALAB_CONFIGS[@]}" ;;
    esac
}

# Whether $2 is a configuration of architecture $1.  (Not through grep -q:
# under pipefail, grep's early exit could fail the pipeline on a busy host.)
vm_config_exists() {
    local c
    for c in $(arch_configs "$1"); do
        [ "$c" = "$2" ] && return 0
    done
    return 1
}

vm_config() {
    VM_CPU=""
    VM_EXPECT_IRQ=msix
    VM_EXPECT_DMA_OPS=direct
    VM_EXPECT_DOORBELL=mmio
    VM_EXPECT_SHADOW=on
    VM_EXPECT_MORE=""
    VM_CONSOLE=ttyS0
    VM_RESULTS_PORT=(-serial file:@FILE@)
    VM_RESULTS_TTY=""
    if [ "$ARCH" = aarch64 ]; then
        vm_config_aarch64 "$1"
        return
    fi
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
        # i440FX: conventional PCI, and only the legacy INTx line.  The
        # doorbells carry their tails, as before shadow tails (every other
        # configuration keeps them in memory, where the device reads them).
        VM_MACHINE=pc
        VM_MODPARAMS="shadow_doorbell=0"
        VM_EXPECT_SHADOW=off
        VM_EXPECT_IRQ=intx
        VM_QEMU_ARGS=(-device dmalab,msix=off,msi=off)
        ;;
    msi)
        # A single MSI vector shared by every queue and the error cause,
        # with interrupts coalesced: one per 8 completions or 200 us.
        VM_MODPARAMS="coal_count=8,coal_usec=200"
        VM_EXPECT_IRQ=msi
        VM_QEMU_ARGS=(-device dmalab,msix=off)
        ;;
    iommu)
        # DMA remapped by a strict Intel IOMMU: bus addresses are IOVAs,
        # and every unmap is flushed at once.
        VM_MACHINE=q35,kernel-irqchip=split
        VM_APPEND="intel_iommu=on iommu.strict=1"
        VM_EXPECT_DMA_OPS=iommu
        VM_QEMU_ARGS=(-device intel-iommu,intremap=on -device dmalab)
        ;;
    swiotlb)
        # Every streaming mapping goes through a bounce buffer.  The
        # driver's read/write copy through its own reused streaming buffer
        # (use_bounce=1), so the tests' pread/pwrite are right only if the
        # driver syncs it (dma_sync_single_for_device/_for_cpu) each use.
        VM_APPEND="swiotlb=force"
        VM_MODPARAMS="use_bounce=1"
        VM_EXPECT_DMA_OPS=swiotlb
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
        # Slow hardware: 50 MB/s and 100 us per descriptor, virtual time
        # (more than a descriptor's own cost under TCG, so that it shows).
        # dmalab_async checks that transfers take at least that long.
        local bandwidth=50000000 latency=100000
        VM_EXPECT_MORE="bandwidth:$bandwidth,latency:$latency"
        VM_QEMU_ARGS=(-device dmalab,bandwidth=$bandwidth,latency=$latency)
        ;;
    portio)
        # Doorbells through the I/O-port BAR (outl) instead of MMIO.
        VM_MODPARAMS="pio_doorbell=1"
        VM_EXPECT_DOORBELL=port
        VM_QEMU_ARGS=(-device dmalab)
        ;;
    isa)
        # The PC of the ISA era: beside the PCI engine, two ISA devices
        # that the 8237 serves, one on an 8-bit channel and one on a
        # 16-bit channel.  dmalab_isa loads dmalab_isa.ko with them.
        VM_MACHINE=pc
        VM_EXPECT_MORE="isa:0x300/5/1+0x310/7/5"
        VM_QEMU_ARGS=(-device dmalab
                      -device dmalab-isa,iobase=0x300,irq=5,dma=1
                      -device dmalab-isa,iobase=0x310,irq=7,dma=5)
        ;;
    bench)
        # ./run-vm.sh bench: the default PCIe device with 128 MiB of device
        # memory (64 MiB transfers), and beside it QEMU's NVMe model on a
        # RAM-backed file (BENCH_NVME_IMAGE), the baseline of the op rates.
        # dmalab.bench=full|quick tells dmalab_perf how long to run.
        VM_MEM=2G
        VM_TIMEOUT=1500
        VM_APPEND="dmalab.bench=${BENCH_MODE:-quick} dmalab.test_limit=1200"
        VM_QEMU_ARGS=(-device pcie-root-port,id=rp0,chassis=1
                      -device dmalab,id=dmalab0,bus=rp0,devmem-size=128M
                      -device pcie-root-port,id=rp1,chassis=2
                      -drive "file=${BENCH_NVME_IMAGE:-},if=none,id=nvm,format=raw"
                      -device nvme,serial=dmalabbench,drive=nvm,bus=rp1)
        ;;
    *)
        echo "vm-configs: unknown configuration '$1'" >&2
        return 1
        ;;
    esac
}

vm_config_aarch64() {
    # A Cortex-A72 (ARMv8.0): emulated faster than -cpu max, whose
    # pointer authentication TCG computes in software at every call.
    VM_MACHINE=virt,gic-version=3,its=on
    VM_CPU=cortex-a72
    # The console is the PL011.  virt has no second UART before QEMU 9.2:
    # the results go to a PCI 16550, the guest's only ttyS port.
    VM_CONSOLE=ttyAMA0
    VM_RESULTS_PORT=(-device pci-serial,chardev=results
                     -chardev file,id=results,path=@FILE@)
    VM_RESULTS_TTY=/dev/ttyS0
    VM_MEM=1G
    VM_APPEND=""
    VM_MODPARAMS=""
    VM_SMP=2
    VM_TIMEOUT=$((DEFAULT_TIMEOUT * 2))
    VM_QEMU_ARGS=()
    case "$1" in
    default)
        # MSI-X through the GICv3 ITS, behind a root port (hot-unplug).
        VM_QEMU_ARGS=(-device pcie-root-port,id=rp0,chassis=1
                      -device dmalab,id=dmalab0,bus=rp0)
        ;;
    intx)
        # Only the legacy INTx line, which the host bridge routes to a
        # GIC shared peripheral interrupt (the device tree's interrupt-map).
        VM_EXPECT_IRQ=intx
        VM_QEMU_ARGS=(-device dmalab,msix=off,msi=off)
        ;;
    iommu)
        # DMA translated by a strict SMMUv3 (the kernel's default on arm64
        # is strict already; said here as the x86 configuration says it).
        VM_MACHINE=$VM_MACHINE,iommu=smmuv3
        VM_APPEND="iommu.strict=1"
        VM_EXPECT_DMA_OPS=iommu
        VM_QEMU_ARGS=(-device dmalab)
        ;;
    swiotlb)
        VM_APPEND="swiotlb=force"
        VM_MODPARAMS="use_bounce=1"
        VM_EXPECT_DMA_OPS=swiotlb
        VM_QEMU_ARGS=(-device dmalab)
        ;;
    *)
        echo "vm-configs: unknown aarch64 configuration '$1'" >&2
        return 1
        ;;
    esac
}

# The QEMUs whose qtests and style `./run-vm.sh check` runs: Debian 12's
# 7.2, 10.0 (Debian 13's, and Debian 12's backports'), the newest, and the
# newest as a git repository with the patch series applied by git am.
CHECK_QEMUS=(debian stable latest series)

# The kernels `./run-vm.sh check` boots, on which architecture and QEMU,
# and the configurations each runs: "arch:qemu:kernel:[debug]:config...".
# Debian's kernel runs the whole matrix, the 6.12 LTS kernel the common
# paths.  The newest kernel is built once, with kernel/debug.config
# (DMA-API debug, KASAN, lockdep, kmemleak, fault injection): it serves as
# both the newest release and the debug tier, where every program runs,
# dmalab_failnth among them.  Its default and iommu boots run on the
# newest QEMU: the newest stack, end to end.  arm64 runs Debian's arm64
# kernel in each of its configurations.
CHECK_TIERS=(
    "x86_64:debian:debian::${DMALAB_CONFIGS_NO_ISA[*]}"
    "x86_64:debian:lts::default iommu swiotlb msi isa"
    "x86_64:latest:latest:debug:default iommu"
    "x86_64:debian:latest:debug:swiotlb dma32 msi"
    "aarch64:debian:debian::${DMALAB_CONFIGS_AARCH64[*]}"
)
# A debug kernel's boots may take this many times their usual limit.
DEBUG_TIMEOUT_FACTOR=4
