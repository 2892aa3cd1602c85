# The VM configurations that ./run-vm.sh check boots, each selectable by
# name with --only NAME (sourced by run-vm.sh).
#
# vm_config NAME sets:
#   VM_MACHINE     -M value
#   VM_MEM         -m value
#   VM_APPEND      extra kernel command line
#   VM_QEMU_ARGS   extra QEMU arguments (the dmalab devices among them)
#   VM_TIMEOUT     seconds the boot may take under TCG

DMALAB_CONFIGS=(default)
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
    VM_TIMEOUT=$DEFAULT_TIMEOUT
    VM_QEMU_ARGS=()
    case "$1" in
    default)
        # q35, PCIe, MSI-X: one vector per queue plus one for errors.
        VM_QEMU_ARGS=(-device dmalab)
        ;;
    *)
        echo "vm-configs: unknown configuration '$1'" >&2
        return 1
        ;;
    esac
}
